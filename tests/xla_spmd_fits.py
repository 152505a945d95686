"""The XLA SPMD runs of the test suite, all in ONE worker process that the tests share.

``torch_xla.runtime.use_spmd()`` is process-global and must come before any XLA tensor of a process, so the SPMD
runs cannot happen inside the pytest process (which already holds non-SPMD XLA tensors). Starting one worker
per test cost ~25-60 s each (interpreter, torch_xla, data, compilation); this worker starts once, runs every
scenario the selected tests need one after the other, and writes each scenario's outcome to
``<results>/<name>.json`` as soon as it is done. The tests run their CPU references meanwhile in the pytest process,
then wait for their scenario's file (:class:`SpmdFits`) and assert on it exactly as before.

Scenarios (:data:`SCENARIOS`): ``fit(tiny_config(...))`` with ``device="xla"`` and 16 images per device, or the
hand-written AdamW steps of :mod:`xla_spmd_worker` (run first, so that its compile counts are its own).

Usage (by :class:`SpmdFits`): python xla_spmd_fits.py <results folder> <json: [scenario name, ...]>
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
PER_DEVICE_BATCH = 16  # images per virtual device in every fit scenario (the CPU reference gets 16 x devices)
ADAMW_STEPS = "adamw_steps"  # the scenario of xla_spmd_worker (a .pt file, not a fit)

# name -> (section, overrides shared by the XLA run and its CPU reference). The order is the worker's order.
SCENARIOS: dict[str, tuple[str, dict]] = {
    ADAMW_STEPS: ("", {}),
    "kamim_device_keypoints": ("pretrain", {"method": "kamim", "keypoints_on": "device", "epochs": 1,
                                            "precision": "fp32", "num_threads": None}),
    # 120 images, global batch 64: one full batch, then the last 56 (a multiple of the 4 devices, 14 each)
    "simmim_partial_last_batch": ("pretrain", {"method": "simmim", "epochs": 1, "precision": "fp32",
                                               "num_threads": None, "max_train_samples": 120, "drop_last": False}),
    # global batch 8 x 4 = 32; 70 validation images = 64 + a last batch of 6 sharded over the devices
    "linprobe_ragged_eval": ("linprobe", {"pretrained": "scratch", "epochs": 1, "batch_size": 8,
                                          "max_eval_samples": 70, "num_threads": None}),
    **{f"kamim_{masking}_masks": ("pretrain", {"method": "kamim", "keypoints_on": "device", "masking": masking,
                                               "img_size": 64, "mask_patch_size": 16, "epochs": 1,
                                               "precision": "fp32", "num_threads": None})
       for masking in ("attmask", "density")},
    "semanticmim_keypoint_weighting": ("pretrain", {"method": "semanticmim", "mask_patch_size": 16,
                                                    "semanticmim_weighting": "keypoints", "keypoints_on": "device",
                                                    "epochs": 1, "precision": "fp32", "num_threads": None}),
    "pss_cyclic_finetune": ("finetune", {"pretrained": "scratch", "pss": "cyclic", "relative_position_bias": True,
                                         "epochs": 1, "precision": "fp32", "num_threads": None}),
}


def xla_overrides(name: str) -> dict:
    """The overrides of scenario ``name`` on XLA: 16 images per device unless the scenario sets its own batch."""
    return {"device": "xla", "batch_size": PER_DEVICE_BATCH, **SCENARIOS[name][1]}


def cpu_overrides(name: str, num_devices: int) -> dict:
    """The same run in one CPU process on the global batch (``num_devices`` times the per-device batch)."""
    overrides = xla_overrides(name)
    return {**overrides, "device": "cpu", "batch_size": overrides["batch_size"] * num_devices}


def _compile_count() -> int:
    """Graphs compiled so far by this process (torch_xla's CompileTime metric; 0 before the first)."""
    import torch_xla

    if not torch_xla._XLAC._xla_runtime_is_initialized():  # left alone: use_spmd() must come first
        return 0
    import torch_xla.debug.metrics as metrics

    data = metrics.metric_data("CompileTime")
    return 0 if data is None else int(data[0])


def _run_scenario(name: str, results: Path) -> dict:
    if name == ADAMW_STEPS:
        import xla_spmd_worker

        xla_spmd_worker.main(str(results / f"{name}.pt"))
        return {"output": str(results / f"{name}.pt")}
    from engine_fixtures import tiny_config
    from kamim_lib.engine import fit

    section = SCENARIOS[name][0]
    return {"summary": json.loads(json.dumps(fit(tiny_config(results / name, section, **xla_overrides(name))),
                                             default=str))}


def main(results: Path, names: list[str]) -> None:
    """Run ``names`` in :data:`SCENARIOS` order; a failing scenario is recorded and the next one still runs."""
    for name in sorted(names, key=list(SCENARIOS).index):
        start, cpu_start, compiles_before = time.monotonic(), time.process_time(), _compile_count()
        try:
            outcome = {"ok": True, **_run_scenario(name, results)}
        except Exception:  # noqa: BLE001 - reported to the scenario's test, which fails with it
            outcome = {"ok": False, "error": traceback.format_exc()}
        outcome.update(seconds=round(time.monotonic() - start, 1), compiles=_compile_count() - compiles_before,
                       cpu_seconds=round(time.process_time() - cpu_start, 1))
        partial = results / f"{name}.json.partial"
        partial.write_text(json.dumps(outcome))
        partial.rename(results / f"{name}.json")  # the waiting test never reads a half-written file
        print(f"{name}: {'ok' if outcome['ok'] else 'FAILED'} in {outcome['seconds']} s ({outcome['cpu_seconds']} "
              f"CPU s, {outcome['compiles']} XLA compilations)", flush=True)


class SpmdFits:
    """The worker process, started once with the scenarios the selected tests need; ``result`` waits for one."""

    def __init__(self, results: Path, names: list[str], *, timeout_s: float = 1800):
        self.results, self.names = results, set(names)
        self._log = (results / "worker.log").open("w")
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE),
                                                                                 os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen([sys.executable, str(Path(__file__)), str(results), json.dumps(names)],
                                         env=environment, stdout=self._log, stderr=subprocess.STDOUT, text=True)
        self._deadline = time.monotonic() + timeout_s

    def result(self, name: str) -> dict:
        """Scenario ``name``'s outcome (waits for it): ``{"ok", "seconds", "cpu_seconds", "compiles", "summary" |
        "output" | "error"}``."""
        assert name in self.names, f"scenario {name!r} was not requested from the SPMD worker"
        done = self.results / f"{name}.json"
        while not done.exists():
            if self._process.poll() is not None and not done.exists():
                raise AssertionError(f"the SPMD worker exited ({self._process.returncode}) before {name}:\n"
                                     + self.log_tail())
            if time.monotonic() > self._deadline:
                self.close()
                raise AssertionError(f"the SPMD worker timed out before {name}:\n" + self.log_tail())
            time.sleep(0.2)
        return json.loads(done.read_text())

    def summary(self, name: str) -> dict:
        """The ``fit`` summary of scenario ``name``; fails the test with the worker's traceback if it raised."""
        outcome = self.result(name)
        assert outcome["ok"], outcome["error"][-4000:]
        return outcome["summary"]

    def log_tail(self, characters: int = 4000) -> str:
        self._log.flush()
        return (self.results / "worker.log").read_text()[-characters:]

    def close(self) -> None:
        """Stop the worker if it is still running (e.g. a test failed and the rest were deselected)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._log.close()


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main(Path(sys.argv[1]), json.loads(sys.argv[2]))

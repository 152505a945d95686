"""Starting the replicas of an XLA multi-process run (``device="xla"``, ``xla_mode="multiprocess"``).

:func:`~kamim_lib.engine.fit` calls :func:`fit_in_xla_processes` itself when the configuration asks for this mode,
so the CLI, the notebooks and the reproduction runner need nothing special::

    fit(load_config("params/train/paper.yaml", ["device=xla", "xla_mode=multiprocess", "batch_size=256"]))

``torch_xla.launch`` spawns one process per TPU chip (with one thread per core where a chip has several, as on
TPU v2/v3) and calls :func:`_replica_main` in each; every replica builds its own
:class:`~kamim_lib.runtime.xla_multiprocess.XLAMultiprocessRuntime` and runs the ordinary loop. Replica 0 writes
the run directory; this (parent) process reads the summary back from it. The parent must not have used the XLA
device before (torch_xla refuses to spawn then): run multi-process training from a fresh process or kernel.

Tested on PJRT CPU with one replica only (multi-process collectives hang there with several devices).
"""
from __future__ import annotations

import pickle
from typing import Callable

from kamim_lib.config import TrainConfig
from kamim_lib.engine.loop import train_in_this_process
from kamim_lib.engine.run_dir import RunDirectory
from kamim_lib.runtime import create_runtime


def launches_xla_processes(config: TrainConfig) -> bool:
    """Whether ``config`` asks for XLA replicas started by ``torch_xla.launch``."""
    return config.device == "xla" and config.xla_mode == "multiprocess"


def _replica_main(index: int, config: TrainConfig, on_step: Callable[[dict], None] | None) -> None:
    """What every replica runs (``index`` is its global ordinal, supplied by ``torch_xla.launch``)."""
    runtime = create_runtime(config.device, config.precision, xla_mode="multiprocess")
    try:
        train_in_this_process(config, runtime=runtime, on_step=on_step)
    finally:
        runtime.shutdown()


def fit_in_xla_processes(config: TrainConfig, *, on_step: Callable[[dict], None] | None = None) -> dict:
    """Run :func:`~kamim_lib.engine.fit` in one process per XLA device and return replica 0's summary.

    Args:
        config: a configuration with ``device="xla"`` and ``xla_mode="multiprocess"``.
        on_step: see :func:`~kamim_lib.engine.fit`; it is pickled into every replica, so it must be a module-level
            function (or a ``functools.partial`` of one).

    Returns:
        The run's summary (``summary.json``).

    Raises:
        ValueError: ``config`` is not a multi-process XLA configuration, or ``on_step`` cannot be pickled.
        NonFiniteLossError, ...: whatever a replica raised is raised again here.
        RuntimeError: the replicas returned without a finished summary.
    """
    if not launches_xla_processes(config):
        raise ValueError(f"fit_in_xla_processes needs device='xla' and xla_mode='multiprocess', got "
                         f"device={config.device!r}, xla_mode={config.xla_mode!r}.")
    if on_step is not None:
        try:
            pickle.dumps(on_step)
        except Exception as error:  # pickling raises several types (PicklingError, AttributeError, TypeError)
            raise ValueError(f"on_step must be picklable to reach the XLA replicas (a module-level function), got "
                             f"{on_step!r}: {error}. In a notebook, use xla_mode='spmd' for live callbacks.") \
                from None
    import torch_xla  # lazy: optional dependency

    if hasattr(torch_xla, "launch"):
        torch_xla.launch(_replica_main, args=(config, on_step))
    else:  # torch_xla < 2.4
        import torch_xla.distributed.xla_multiprocessing as xmp

        xmp.spawn(_replica_main, args=(config, on_step))
    summary = RunDirectory(config).read_summary()
    if summary is None or summary.get("status") != "finished":
        raise RuntimeError(f"the XLA replicas exited without a finished run in {RunDirectory(config).path} "
                           f"(summary: {summary}); see their output above.")
    return summary

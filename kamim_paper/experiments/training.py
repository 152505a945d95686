"""How the training notebooks (02–06) turn their parameters into engine configurations.

Every run of a notebook is built from three things: an engine configuration file (``train_config``, e.g.
``train/smoke.yaml`` under ``params/``), the notebook's ``train_overrides`` and the variant being trained (e.g.
``method=kamim detector=sift``). Runs go to ``<output_dir>/runs/<command>/<run_id>/``; the run id is derived from
the resolved configuration, so a notebook that runs again resumes or reuses its runs, and two notebooks that ask
for the same experiment (the detector ablation's FAST row and the pretraining notebook's KAMIM run) share one run.

Override syntax (one ``key=value`` string per entry):

* ``key=value``: applied to every command whose configuration has ``key`` (``epochs=2`` shortens pretraining,
  probing and fine-tuning; ``mask_ratio=0.5`` only exists for pretraining; ``probe_layer=4`` only for probing);
* ``<command>.key=value`` with command ``pretrain``, ``linprobe`` or ``finetune``: that command only
  (``linprobe.epochs=5``), applied after the plain entries.

A probe or fine-tune always starts from the pretrain run built from the same file, overrides and variant; it is
named explicitly (``pretrained=<run dir>``), which is the run `kamim linprobe --config ... --set ...` would derive.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from kamim_lib.config import SECTIONS, TrainConfig, config_fields, load_config, run_dir, split_override
from kamim_lib.config.checks import suggest
from kamim_paper.locations import params_dir

STAGES = tuple(SECTIONS)  # "pretrain", "finetune", "linprobe"
PROTOCOLS = ("linprobe", "finetune")
RUNS_FOLDER = "runs"
# Set by the notebook itself (its output_dir and device parameters); an override would silently fight them.
NOTEBOOK_OWNED_KEYS = ("out_dir", "device", "pretrained")


def resolve_train_config(train_config: str | Path) -> Path:
    """The engine configuration file: an absolute path, or a path relative to the repository's ``params/``.

    Raises:
        ValueError: the file does not exist (lists the files under ``params/train/``).
    """
    path = Path(train_config).expanduser()
    if not path.is_absolute():
        path = params_dir() / path
    if not path.is_file():
        known = sorted(str(item.relative_to(params_dir())) for item in (params_dir() / "train").glob("*.yaml"))
        raise ValueError(f"train_config={str(train_config)!r}: {path} does not exist; give a path relative to "
                         f"{params_dir()} ({', '.join(known) or 'no files there'}) or an absolute path.")
    return path


def _split(entry: str) -> tuple[str | None, str, str]:
    """``"linprobe.epochs=2"`` -> ("linprobe", "epochs", "2"); ``"epochs=2"`` -> (None, "epochs", "2") — the one
    override form, read by :func:`kamim_lib.config.split_override`."""
    return split_override(entry, where="train_overrides")


def stage_overrides(overrides: Sequence[str], stage: str) -> list[str]:
    """The ``key=value`` entries of ``overrides`` that apply to ``stage`` (see the module docstring).

    Args:
        overrides: entries ``key=value`` or ``<command>.key=value``.
        stage: "pretrain", "linprobe" or "finetune".

    Returns:
        Plain ``key=value`` strings: the stage's own keys among the unprefixed entries, then its prefixed entries.

    Raises:
        ValueError: a malformed entry, an unknown prefix, a key no command has, or a key the notebook sets
            itself (out_dir, device, pretrained).
    """
    if stage not in STAGES:
        raise ValueError(f"stage={stage!r} is not a command; choose one of {', '.join(STAGES)}.")
    if isinstance(overrides, str):
        raise ValueError(f"train_overrides must be a list of 'key=value' strings, got the string {overrides!r}.")
    all_keys = {key for cls in SECTIONS.values() for key in config_fields(cls)}
    own_keys = config_fields(SECTIONS[stage])
    plain, prefixed = [], []
    for entry in overrides:
        prefix, key, value = _split(entry)
        if key in NOTEBOOK_OWNED_KEYS:
            raise ValueError(f"train_overrides: {entry!r} sets {key!r}, which the notebook sets itself; use the "
                             f"notebook's output_dir / device parameters instead.")
        if prefix is None and key not in all_keys:
            raise ValueError(f"train_overrides: unknown key {key!r} in {entry!r}{suggest(key, all_keys)}; "
                             f"see `kamim pretrain --help` (or linprobe / finetune).")
        if prefix == stage:
            prefixed.append(f"{key}={value}")
        elif prefix is None and key in own_keys:
            plain.append(f"{key}={value}")
    return plain + prefixed


@dataclass(frozen=True)
class TrainingSetup:
    """Where and how every run of a training notebook is configured.

    Attributes:
        train_config: the engine configuration file (resolved, absolute).
        overrides: the notebook's ``train_overrides`` (see the module docstring for the syntax).
        runs_dir: the engine's ``out_dir``: runs go to ``runs_dir/<command>/<run_id>/``.
        device: the engine's ``device`` ("auto", "cpu", "cuda" or "xla"); not part of the run id.
    """

    train_config: Path
    overrides: tuple[str, ...]
    runs_dir: Path
    device: str

    def _load(self, stage: str, variant: Sequence[str], extra: Sequence[str] = ()) -> TrainConfig:
        owned = [f"out_dir={self.runs_dir}", f"device={self.device}", *extra]
        # The variant comes last: it defines the row, so "pretrain.temperature=..." cannot flatten a T sweep.
        entries = stage_overrides(self.overrides, stage) + stage_overrides(variant, stage)
        return load_config(self.train_config, [*entries, *owned], section=stage)

    def pretrain_config(self, variant: Sequence[str] = ()):
        """The :class:`~kamim_lib.config.PretrainConfig` of ``variant`` (e.g. ``["method=simmim"]``)."""
        return self._load("pretrain", variant)

    def classifier_config(self, protocol: str, variant: Sequence[str] = (), pretrained: str | Path | None = None):
        """The linear-probe or fine-tune configuration that starts from ``variant``'s pretrain run.

        Args:
            protocol: "linprobe" or "finetune".
            variant: the pretrain variant's overrides (only the keys ``protocol`` has apply to it).
            pretrained: a checkpoint to start from instead (e.g. the original's released weights); None = the
                pretrain run of ``variant``.
        """
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol={protocol!r} is not supported; choose one of {', '.join(PROTOCOLS)}.")
        source = pretrained if pretrained is not None else run_dir(self.pretrain_config(variant))
        return self._load(protocol, variant, [f"pretrained={source}"])


def training_setup(train_config: str | Path, overrides: Sequence[str], output_dir: str | Path,
                   device: str = "auto") -> TrainingSetup:
    """A :class:`TrainingSetup` writing runs under ``<output_dir>/runs`` (absolute, whatever the working folder)."""
    if isinstance(overrides, str):
        raise ValueError(f"train_overrides must be a list of 'key=value' strings, got the string {overrides!r}.")
    return TrainingSetup(resolve_train_config(train_config), tuple(overrides),
                         (Path(output_dir) / RUNS_FOLDER).resolve(), device)


def check_training_setup(train_config: str | Path, overrides: Sequence[str], device: str = "auto",
                         stages: Sequence[str] = STAGES, variants: Sequence[Sequence[str]] = ((),)) -> None:
    """Build the configurations a notebook will train, so a typo fails before the first (long) run starts.

    Args:
        train_config, overrides, device: as for :func:`training_setup`.
        stages: the commands the notebook runs.
        variants: the variants' own overrides (e.g. ``[["method=kamim", "weight_patch_size=16"]]``).

    Raises:
        ValueError: a bad file, override or value (``ConfigError`` is a ValueError naming the key), prefixed with
            the variant when one is given.
    """
    setup = training_setup(train_config, overrides, Path.cwd(), device)
    for variant in variants:
        try:
            for stage in stages:
                if stage == "pretrain":
                    setup.pretrain_config(variant)
                else:
                    setup.classifier_config(stage, variant, pretrained="scratch")
        except ValueError as error:
            if not variant:
                raise
            raise ValueError(f"variant {' '.join(variant)}: {error}") from None

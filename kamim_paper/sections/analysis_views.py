"""What the four analysis sections (notebooks 07–10: attention, fourier, tokens, reconstructions) share: the models
they analyse, with this profile's pretraining runs trained first when they are needed and absent, and the result
they read back.

Each section module re-exports :func:`inputs`, so its notebook's first step is ``setup = <section>.inputs(params)``.
"""
from __future__ import annotations

from pathlib import Path

from kamim_paper.experiments.analysis_session import AnalysisSetup, resolve_setup, section_files
from kamim_paper.results import summaries
from kamim_paper.results.artifacts import PRETRAINED_INDEX, pretrained_checkpoints, section_output_dir
from kamim_paper.runner.profiles import load_profile
from kamim_paper.sections import pretrain
from kamim_paper.sections.outputs import SectionResult
from kamim_paper.sections.params import PretrainParams, section_defaults


def pretrain_command(profile: str) -> str:
    """The command that makes this profile's pretraining runs and their record."""
    return f"kamim reproduce --profile {profile} --only pretrain"


def needs_pretraining_record(checkpoints: dict | None) -> bool:
    """Whether an analysis reads this profile's pretraining record: ``checkpoints`` None, or a label whose path is
    None (that label's recorded run)."""
    return checkpoints is None or any(path is None for path in checkpoints.values())


def pretraining_record_present(out_dir: str | Path) -> bool:
    """Whether ``<out_dir>/pretrain/checkpoints.json`` exists and every checkpoint it names is on disk."""
    try:
        record = pretrained_checkpoints(out_dir)
    except FileNotFoundError:
        return False
    return all(Path(path).exists() for path in record["checkpoints"].values())


def missing_checkpoints(checkpoints: dict | None) -> dict[str, str]:
    """The checkpoints given as paths (not taken from the record) that do not exist, label -> path."""
    return {label: str(path) for label, path in (checkpoints or {}).items()
            if path is not None and not Path(path).exists()}


def pretraining_parameters(params) -> PretrainParams:
    """The pretraining section's parameters for an analysis: its defaults, this profile's pretrain values, the
    analysis's output folder and device, and only the profile's first seed (the analyses read the first seed's
    runs; the run ids are those ``kamim reproduce --only pretrain`` trains, so either reuses the other's runs)."""
    values = section_defaults(PretrainParams)
    values.update({name: value for name, value in load_profile(params.profile).parameters_for("pretrain").items()
                   if name in values})
    values.update(profile=params.profile, output_dir=params.output_dir, device=params.device, force=False)
    values["seeds"] = list(values["seeds"][:1])
    return PretrainParams(**values)


def ensure_pretrained(out_dir: str | Path, params, *, log=print) -> bool:
    """Train and record this profile's first-seed pretraining runs when the analysis needs the pretraining record
    and it, or a checkpoint it names, is absent (a fresh clone: checkpoints are not committed). Says so in one line.

    Returns:
        True when it trained (or resumed) them, False when nothing was needed.

    Raises:
        ValueError: a checkpoint given as a path does not exist (one line naming the command that makes this
            profile's own checkpoints).
    """
    missing = missing_checkpoints(params.checkpoints)
    if missing:
        raise ValueError(f"checkpoint(s) {missing} do not exist: pass existing files, or a None path (or "
                         f"checkpoints=None) for this profile's own pretraining runs, which "
                         f"`{pretrain_command(params.profile)}` makes (and this section trains when absent).")
    if not needs_pretraining_record(params.checkpoints) or pretraining_record_present(out_dir):
        return False
    pretrain_params = pretraining_parameters(params)
    log(f"No pretrained checkpoints in {Path(out_dir) / PRETRAINED_INDEX} (or a file it names is missing): "
        f"training this profile's pretraining runs first ({', '.join(pretrain_params.methods)}, seed "
        f"{pretrain_params.seeds[0]}, as `{pretrain_command(params.profile)}` would); they are reused thereafter.")
    pretrain.hand_off_checkpoints(pretrain.compute(pretrain_params))
    return True


def inputs(params) -> AnalysisSetup:
    """The architecture and checkpoints the section analyses (a random-init model is added when measuring):
    ``params.checkpoints``, or this profile's pretraining record, trained first when absent
    (:func:`ensure_pretrained`)."""
    out_dir = section_output_dir(params.output_dir, params.profile)
    ensure_pretrained(out_dir, params)
    return resolve_setup(out_dir, params)


def read_result(name: str, params, setup: AnalysisSetup, *, arrays: bool = True) -> SectionResult:
    """The section's summary (and arrays) as written by its ``compute``."""
    files = section_files(setup.out_dir, name)
    return SectionResult(name, params, setup.out_dir, summaries.read_summary(files.summary),
                         summaries.read_arrays(files.arrays) if arrays else None)


__all__ = ["inputs", "ensure_pretrained", "pretraining_parameters", "pretrain_command", "needs_pretraining_record",
           "pretraining_record_present", "missing_checkpoints", "read_result"]

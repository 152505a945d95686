"""Notebook 12's experiments: KAMIM beside its peers (PEERS §6.2) on one footing, with paired seeds.

Peers (``methods``): ``simmim``, ``kamim``, ``attmask`` (SimMIM's loss with AttMask's attention-guided masks),
``semanticmim`` and ``kamim+semanticmim`` (SemanticMIM's pixel target weighted by KAMIM's keypoint weights). Every
peer is pretrained with the same configuration file and overrides, once per seed (the same seed gives every peer
the same data order and, for the random-cell strategies, the same masks), then probed and/or fine-tuned. The
baseline that says what "good" is: the random-initialised encoder under the same protocols (probing an untrained
encoder; fine-tuning = training from scratch). PSS fine-tunes the chosen
sources with the drop schedule, and the dynamic-inference sweep measures accuracy and images/s of the fine-tuned
classifiers at each drop ratio.

Results are plain JSON (``run_peers``, ``run_sweeps``) that :mod:`kamim_paper.sections.peers` stores in its summary
and turns into tables, figures and generated conclusions.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

from kamim_lib._validation import check_choice
from kamim_lib.config import run_id
from kamim_lib.engine.pss_sweep import sweep_finetune_run
from kamim_lib.models import model_arch
from kamim_paper.experiments.runs import Variant, run_variant
from kamim_paper.experiments.training import training_setup

PEER_METHODS = ("simmim", "kamim", "attmask", "semanticmim", "kamim+semanticmim")
# The reference every paired difference is taken against.
REFERENCE = "simmim"
SCRATCH_LABEL = "random init"


# How the peers are set up (notebook 12's ``peer_settings``): "shared" puts every peer on SimMIM's footing (its
# 32-px mask cells at ratio 0.6, pixel targets), so only the method differs; "papers" gives each peer the settings
# of its own paper where they can be expressed on this engine (PEER_PAPER_SETTINGS; docs/faithfulness.md lists what
# still differs).
PEER_SETTINGS = ("shared", "papers")

# Each peer's own paper's settings (PEERS.md). "{patch}" is the model's patch size (per-token masks).
PEER_PAPER_SETTINGS = {
    # SemanticMIM's MaskFeat variant (PEERS §4.3; yyk-wew/SemanticMIM configs/maskfeat): per-token random masks
    # (mask_patch_size = model patch), ratio 0.8, 8 proxy tokens, HOG target with L2.
    "semanticmim": ("semanticmim_target=hog", "semanticmim_proxies=8", "mask_patch_size={patch}",
                    "mask_ratio=0.8"),
    # KAMIM's weights weight the pixel loss, so this combination keeps the pixel target; the masks and proxies are
    # SemanticMIM's, so it differs from the semanticmim peer only in the target and the weighting.
    "kamim+semanticmim": ("semanticmim_proxies=8", "mask_patch_size={patch}", "mask_ratio=0.8"),
    # AttMask (PEERS §2.2, §2.4): ranks single tokens (not SimMIM cells), masks floor(N·r), r = 0.3 (its
    # pred_ratio; the per-iteration draw r ~ U(0.1, 0.5) is not reproduced). Teacher: EMA 0.996 -> 1 (the default).
    "attmask": ("mask_patch_size={patch}", "attmask_level=token", "attmask_rounding=floor", "mask_ratio=0.3"),
    # SimMIM and KAMIM are on their own paper's settings already (32-px cells at 0.6).
    "simmim": (),
    "kamim": (),
}


def model_patch_size(train_config, overrides, device: str = "auto") -> int:
    """The patch size of the model the pretraining configuration builds (per-token masks need it)."""
    return model_arch(training_setup(train_config, overrides, Path.cwd(), device).pretrain_config().model).patch_size


def peer_variant(name: str, *, attmask_mode: str = "high", settings: str = "shared",
                 patch_size: int | None = None) -> Variant:
    """The pretraining variant of a peer (see the module docstring).

    Args:
        settings: "shared" (SimMIM's masks for every peer) or "papers" (:data:`PEER_PAPER_SETTINGS`).
        patch_size: the model's patch size; needed with settings="papers" (per-token masks).
    """
    check_choice("methods", name, PEER_METHODS)
    check_choice("peer_settings", settings, PEER_SETTINGS)
    overrides = {
        "simmim": ("method=simmim",),
        "kamim": ("method=kamim",),
        "attmask": ("method=simmim", "masking=attmask", f"attmask_mode={attmask_mode}"),
        "semanticmim": ("method=semanticmim",),
        "kamim+semanticmim": ("method=semanticmim", "semanticmim_weighting=keypoints"),
    }[name]
    if settings == "papers":
        if patch_size is None:
            raise ValueError("peer_settings='papers' needs the model's patch_size (per-token masks).")
        overrides += tuple(item.format(patch=patch_size) for item in PEER_PAPER_SETTINGS[name])
    return Variant(name, overrides, {"peer": name})


def with_seed(variant: Variant, seed: int) -> Variant:
    """``variant`` trained with ``seed`` (label unchanged; ``fields["seed"]`` records it)."""
    return replace(variant, overrides=(*variant.overrides, f"seed={seed}"), fields={**variant.fields, "seed": seed})


def pss_variant(source: Variant, *, schedule: str = "cyclic", scorer: str = "l1") -> Variant:
    """Fine-tuning ``source``'s backbone with PSS (the pretraining is ``source``'s: pss keys are fine-tune keys)."""
    label = f"{source.label}+pss"
    fields = {**source.fields, "peer": label, "pss": schedule, "pss_scorer": scorer}
    return Variant(label, (*source.overrides, f"pss={schedule}", f"pss_scorer={scorer}"), fields)


def peer_jobs(*, methods: Sequence[str], protocols: Sequence[str], seeds: Sequence[int], attmask_mode: str = "high",
              pss_sources: Sequence[str] = (), pss_schedule: str = "cyclic", pss_scorers: Sequence[str] = ("l1",),
              settings: str = "shared", patch_size: int | None = None) -> list[tuple[str, Variant, str, str | None]]:
    """What :func:`run_peers` trains, in order: ``(kind, variant, protocol, pretrained)`` with kind "peers",
    "baselines" (random init: ``pretrained="scratch"``) or "pss". ``settings`` / ``patch_size``: as
    :func:`peer_variant`."""
    peer = {"attmask_mode": attmask_mode, "settings": settings, "patch_size": patch_size}
    jobs = []
    for seed in seeds:
        for name in methods:
            for protocol in protocols:
                jobs.append(("peers", with_seed(peer_variant(name, **peer), seed), protocol, None))
        scratch = with_seed(Variant(SCRATCH_LABEL, (), {"peer": SCRATCH_LABEL}), seed)
        jobs += [("baselines", scratch, protocol, "scratch") for protocol in protocols]
        for source in pss_sources:
            for scorer in pss_scorers:
                variant = pss_variant(with_seed(peer_variant(source, **peer), seed),
                                      schedule=pss_schedule, scorer=scorer)
                jobs.append(("pss", variant, "finetune", None))
    return jobs


def run_peers(setup, jobs: Sequence[tuple[str, Variant, str, str | None]], *, fit: Callable[..., dict] | None = None,
              log: Callable[[str], None] | None = print) -> dict:
    """Pretrain (or reuse) and evaluate every job of :func:`peer_jobs`.

    Returns:
        ``{"peers": [...], "baselines": [...], "pss": [...]}``: results of
        :func:`~kamim_paper.experiments.runs.run_variant` (``fields`` hold ``peer`` and ``seed``); PSS results
        also carry ``timing`` (fine-tune wall time and images/s of the run's session).
    """
    results = {"peers": [], "baselines": [], "pss": []}
    for index, (kind, variant, protocol, pretrained) in enumerate(jobs, 1):
        if log is not None:
            log(f"[{index}/{len(jobs)}] {variant.label} seed {variant.fields['seed']}: {protocol}")
        result = run_variant(setup, variant, protocol, pretrained=pretrained, fit=fit)
        if kind == "pss":
            result["timing"] = run_timing(result["evaluation"]["run_dir"])
        results[kind].append(result)
    return results


def planned_run_ids(setup, jobs: Sequence[tuple[str, Variant, str, str | None]]) -> list[str]:
    """The evaluation run ids of ``jobs`` (each covers its pretrain run through ``pretrained``), sorted, without
    training: a summary whose runs differ was made from another configuration."""
    return sorted(run_id(setup.classifier_config(protocol, variant.overrides, pretrained=pretrained))
                  for _, variant, protocol, pretrained in jobs)


def recorded_run_ids(results: Mapping[str, Sequence[dict]]) -> list[str]:
    """The evaluation run ids of :func:`run_peers` results, sorted (as :func:`planned_run_ids`)."""
    ordered = [result for kind in ("peers", "baselines", "pss") for result in results.get(kind, [])]
    return sorted(result["evaluation"]["run_id"] for result in ordered)


def run_timing(run_dir: str) -> dict:
    """Wall time and images/s of a finished run's training session (from its summary.json)."""
    summary = json.loads((Path(run_dir) / "summary.json").read_text())
    return {"wall_time_s": summary.get("session_wall_time_s"), "images_per_s": summary.get("session_images_per_s")}


def run_sweeps(results: Mapping[str, Sequence[dict]], pss_sources: Sequence[str], *, drop_ratios: Sequence[float],
               device: str) -> list[dict]:
    """The dynamic-inference sweep of every fine-tuned PSS source, plain and with PSS.

    Returns:
        ``[{"label", "seed", "rows": sweep_finetune_run(...)}]`` in the order of ``results["peers"]`` then
        ``results["pss"]``.
    """
    sweep_sources = [result for result in results["peers"] + results["pss"] if result["protocol"] == "finetune"
                     and result["label"].removesuffix("+pss") in pss_sources]
    return [{"label": result["label"], "seed": result["fields"]["seed"],
             "rows": sweep_finetune_run(result["evaluation"]["run_dir"], drop_ratios=drop_ratios, device=device)}
            for result in sweep_sources]

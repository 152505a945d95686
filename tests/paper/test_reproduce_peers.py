"""Notebook 12's experiments: peer variants, paired intervals, and the sweep of a fine-tune run (the tables and
conclusions: test_sections_peers.py)."""
from __future__ import annotations

import math

import pytest

from kamim_lib.stats import paired_difference_ci

from engine_fixtures import tiny_config
from kamim_lib.config import load_config
from kamim_lib.engine import fit
from kamim_lib.engine.pss_sweep import sweep_finetune_run
from kamim_lib.engine.run_dir import RunDirectory
from kamim_paper.experiments import peers


def test_every_peer_is_a_valid_pretraining_and_pss_only_changes_the_finetune():
    for name in peers.PEER_METHODS:
        variant = peers.with_seed(peers.peer_variant(name), 3)
        config = load_config({"model": "vit_nano", "dataset": "digits", "img_size": 64, "mask_patch_size": 16},
                             [entry for entry in variant.overrides], section="pretrain")
        assert config.seed == 3 and variant.fields == {"peer": name, "seed": 3}
    attmask = peers.peer_variant("attmask", attmask_mode="low").overrides
    assert attmask == ("method=simmim", "masking=attmask", "attmask_mode=low")
    pss = peers.pss_variant(peers.peer_variant("kamim"), scorer="keypoints")
    assert pss.label == "kamim+pss" and pss.overrides[-2:] == ("pss=cyclic", "pss_scorer=keypoints")
    with pytest.raises(ValueError, match="methods"):
        peers.peer_variant("mae")


def test_paired_interval_known_answer():
    # differences 1, 2, 3: mean 2, sd 1, t_{0.975, 2} = 4.302653: half width 4.302653 / sqrt(3)
    mean, low, high = paired_difference_ci([11, 12, 13], [10, 10, 10])
    half = 4.302652729911275 / math.sqrt(3)
    assert mean == 2 and low == pytest.approx(2 - half) and high == pytest.approx(2 + half)
    assert paired_difference_ci([5, 6], [4, 5]) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        paired_difference_ci([1.0], [0.0])


def test_sweep_of_a_finetune_run(tmp_path):
    config = tiny_config(tmp_path, "finetune", pretrained="scratch", epochs=1, pss="cyclic",
                         relative_position_bias=True)
    summary = fit(config)
    rows = sweep_finetune_run(RunDirectory(config).path, drop_ratios=(0.0, 0.5), repeats=1)
    # 2 x 2 patches + CLS; round(0.5 · 5) = round(2.5) = 2 (Python rounds half to even): 1 patch + CLS
    assert [row["tokens"] for row in rows] == [5, 2]
    assert rows[0]["top1"] == pytest.approx(summary["val_top1"])  # d = 0: exactly the run's own evaluation
    assert all(row["count"] == 64 and row["images_per_s"] > 0 for row in rows)


def test_peers_with_their_papers_settings():
    # peer_settings="papers": SemanticMIM's MaskFeat variant (per-token masks, 0.8, 8 proxies, HOG), AttMask's
    # token-level floor count at its own ratio, KAMIM+SemanticMIM on the pixel target with SemanticMIM's masks;
    # SimMIM and KAMIM unchanged. Each must be a valid ViT-B pretraining at the paper's 192 px.
    papers = {name: peers.peer_variant(name, settings="papers", patch_size=16).overrides
              for name in peers.PEER_METHODS}
    shared = {name: peers.peer_variant(name).overrides for name in peers.PEER_METHODS}
    assert papers["simmim"] == shared["simmim"] and papers["kamim"] == shared["kamim"]
    semantic = load_config({"model": "vit_b", "img_size": 192}, list(papers["semanticmim"]), section="pretrain")
    assert (semantic.method, semantic.semanticmim_target, semantic.semanticmim_proxies, semantic.mask_patch_size,
            semantic.mask_ratio) == ("semanticmim", "hog", 8, 16, 0.8)
    combined = load_config({"model": "vit_b", "img_size": 192}, list(papers["kamim+semanticmim"]), section="pretrain")
    assert (combined.semanticmim_target, combined.semanticmim_weighting, combined.semanticmim_proxies,
            combined.mask_patch_size, combined.mask_ratio) == ("pixels", "keypoints", 8, 16, 0.8)
    attmask = load_config({"model": "vit_b", "img_size": 192}, list(papers["attmask"]), section="pretrain")
    assert (attmask.masking, attmask.attmask_level, attmask.attmask_rounding, attmask.mask_patch_size,
            attmask.mask_ratio) == ("attmask", "token", "floor", 16, 0.3)
    # "shared" keeps every peer's overrides (and so its run ids) as they were
    assert shared["semanticmim"] == ("method=semanticmim",)
    with pytest.raises(ValueError, match="patch_size"):
        peers.peer_variant("semanticmim", settings="papers")
    with pytest.raises(ValueError, match="peer_settings"):
        peers.peer_variant("simmim", settings="paper")
    jobs = peers.peer_jobs(methods=["simmim", "semanticmim"], protocols=["linprobe"], seeds=[0],
                           settings="papers", patch_size=16)
    assert [job[1].overrides[:-1] for job in jobs if job[0] == "peers"] == [papers["simmim"], papers["semanticmim"]]


def test_paper_profiles_run_the_peers_with_their_papers_settings():
    from kamim_paper.runner.profiles import load_profile
    from kamim_paper.sections.params import PeersParams

    assert PeersParams().peer_settings == "shared"  # smoke and the notebook's default: unchanged
    for name in ("paper", "tpu", "paper-dryrun"):
        assert load_profile(name).parameters_for("peers")["peer_settings"] == "papers", name

"""Notebook 12's library: peer variants, paired intervals, tables, conclusions, and the sweep of a fine-tune run."""
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


def _result(label, seed, protocol, top1, knn=None):
    return {"label": label, "fields": {"peer": label, "seed": seed}, "protocol": protocol,
            "evaluation": {"top1": top1, "knn_top1": knn, "run_id": f"{label}-{seed}-{protocol}"}}


def test_rows_and_sentences_from_paired_seeds():
    results = [_result("simmim", s, "linprobe", v) for s, v in ((0, 10.0), (1, 12.0), (2, 14.0))]
    results += [_result("kamim", s, "linprobe", v) for s, v in ((0, 13.0), (1, 15.0), (2, 17.5))]
    results += [_result("semanticmim", 0, "linprobe", 9.0), _result("kamim", 0, "finetune", 50.0)]
    values = peers.per_seed(results, "linprobe", "top1")
    assert values["kamim"] == {0: 13.0, 1: 15.0, 2: 17.5}
    rows = {row["variant"]: row for row in peers.comparison_rows(values, published={"kamim": 1.5})}
    assert rows["simmim"]["vs simmim"] == "reference" and rows["simmim"]["ours"] == 12.0
    mean, low, high = paired_difference_ci([13, 15, 17.5], [10, 12, 14])
    assert rows["kamim"]["vs simmim"] == f"{mean:+.2f} [{low:+.2f}, {high:+.2f}] (n=3)"
    assert rows["kamim"]["paper"] == 1.5 and rows["semanticmim"]["vs simmim"] == "n/a"
    assert "better than simmim" in peers.difference_sentence("kamim", values, "linprobe top-1")
    assert "single seed 0" in peers.difference_sentence("semanticmim", values, "linprobe top-1")
    noisy = {"simmim": {0: 10.0, 1: 12.0}, "kamim": {0: 11.0, 1: 11.0}}
    assert "not distinguishable" in peers.difference_sentence("kamim", noisy, "x")
    constant = {"simmim": {0: 10.0, 1: 12.0}, "kamim": {0: 11.0, 1: 13.0}}
    assert "no spread" in peers.difference_sentence("kamim", constant, "x")


def test_sweep_curves_and_sentences():
    def sweep(label, seed, top1s):
        return {"label": label, "seed": seed,
                "rows": [{"keep_rate": rate, "top1": top1, "images_per_s": 100 / rate}
                         for rate, top1 in zip((1.0, 0.2), top1s)]}

    curves = peers.sweep_curves([sweep("simmim", 0, (80, 40)), sweep("simmim", 1, (82, 44)),
                                 sweep("simmim+pss", 0, (79, 70))])
    assert curves["simmim"]["keep_rate"] == [1.0, 0.2] and curves["simmim"]["top1"] == [81, 42]
    assert curves["simmim"]["top1_low"] == [80, 40] and curves["simmim"]["images_per_s"] == [100, 500]
    (sentence,) = peers.pss_sentences(curves, [])
    assert "simmim+pss reaches 70.0 % top-1 against 42.0 %" in sentence


def test_sweep_of_a_finetune_run(tmp_path):
    config = tiny_config(tmp_path, "finetune", pretrained="scratch", epochs=1, pss="cyclic",
                         relative_position_bias=True)
    summary = fit(config)
    rows = sweep_finetune_run(RunDirectory(config).path, drop_ratios=(0.0, 0.5), repeats=1)
    # 2 x 2 patches + CLS; round(0.5 · 5) = round(2.5) = 2 (Python rounds half to even): 1 patch + CLS
    assert [row["tokens"] for row in rows] == [5, 2]
    assert rows[0]["top1"] == pytest.approx(summary["val_top1"])  # d = 0: exactly the run's own evaluation
    assert all(row["count"] == 64 and row["images_per_s"] > 0 for row in rows)

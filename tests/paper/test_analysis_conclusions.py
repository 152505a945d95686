"""Conclusion sentences are generated from the numbers (known answers on hand-made summaries)."""
import pytest

from kamim_paper.results.conclusions import (attention_conclusions, compare_curves, reconstruction_conclusions,
                                             uniform_attention_distance)
from kamim_paper.experiments.analysis_models import RANDOM_INIT
from kamim_lib.stats import paired_difference_ci


def _rows(values):
    return {"layer": list(range(1, len(values) + 1)), "value": list(values)}


def _attention_model(distance, nmi=(0.1, 0.2)):
    return {"attention_distance_px": _rows(distance), "uniform_attention_distance_px": _rows([100.0] * len(distance)),
            "nmi": _rows(nmi)}


def test_uniform_attention_distance_of_the_papers_grid():
    assert uniform_attention_distance(12, 16) == pytest.approx(99.7529, abs=1e-3)


def test_paired_interval_known_answer():
    # differences 29 and 20: mean 24.5, sd 6.364, t_{0.975, 1} = 12.706 -> half-width 57.18
    mean, low, high = paired_difference_ci([99, 100], [70, 80])
    assert mean == pytest.approx(24.5) and low == pytest.approx(24.5 - 57.18, abs=0.01)
    assert high == pytest.approx(24.5 + 57.18, abs=0.01)


def test_attention_sentences_count_blocks_and_quote_the_paper():
    summary = {"models": {"simmim": _attention_model([70.0, 80.0]), "kamim": _attention_model([99.0, 100.0]),
                          RANDOM_INIT: _attention_model([99.5, 99.8], nmi=(0.001, 0.002))}}
    sentences = attention_conclusions(summary)
    assert "SimMIM: mean attention distance 70.0–80.0 px over its 2 blocks, 70.0%–80.0% of uniform" in sentences[0]
    assert ("KAMIM's mean attention distance exceeds SimMIM's in 2 of 2 blocks; paired difference over blocks "
            "+24.5 px [-32.7, +81.7]") in " ".join(sentences)
    assert "KAMIM's distance is within 1% of uniform attention of the random-init model's in 2 of 2 blocks." in sentences
    assert "SimMIM's distance is within 1% of uniform attention of the random-init model's in 0 of 2 blocks." in sentences
    paper = [s for s in sentences if s.startswith("The paper's KAMIM")][0]
    assert "read off the paper's figures (±0.5 %)" in paper and "99.5–100.2 px" in paper and "(99.75 px)" in paper


def test_compare_curves_direction():
    text = compare_curves("A", [-2.0, -3.0, -1.0], "B", [-1.0, -1.0, -2.0], quantity="ΔLog amplitude",
                          relation="is below", unit_name="layers")
    assert text.startswith("A's ΔLog amplitude is below B's in 2 of 3 layers; paired difference over layers -0.67")


def test_reconstruction_sentences_against_the_floor():
    def record(psnr, ssim):
        return {"original_convention": {"psnr_full": psnr, "ssim_full": ssim},
                "mean": {"psnr_masked": psnr - 1, "psnr_full": psnr, "ssim_masked": ssim, "ssim_full": ssim}}
    summary = {"models": {"kamim": record(14.0, 0.30)}, "floor": record(12.5, 0.10), "model": "vit_b",
               "parameters": {"mask_ratio": 0.4},
               "paper": {"psnr_range": [12.06, 12.09], "ssim_range": [0.108, 0.115], "mask_ratio": 0.4,
                         "paper_model": "vit_b"}}
    sentences = reconstruction_conclusions(summary)
    assert "+1.50 dB and SSIM +0.200 against the image-blind floor" in sentences[0]
    assert sentences[-1] == ("The paper's PSNR 12.06–12.09 dB is -0.44 to -0.41 dB against this floor, measured here "
                             "on these images.")


def test_most_different_block_is_where_the_homogeneity_curves_spread_most():
    import torch

    from kamim_lib.analysis.collect import TokenSimilarity
    from kamim_paper.experiments.token_analysis import most_different_block

    def curve(values):
        return TokenSimilarity([1, 2, 3], torch.zeros(3), torch.tensor(values), 4)
    assert most_different_block({"a": curve([0.1, 0.2, 0.3]), "b": curve([0.1, 0.9, 0.35])}) == 2
    assert most_different_block({"a": curve([0.1, 0.2, 0.3]), "swin": None}) is None


def test_models_on_different_grids_are_compared_as_shares_of_uniform():
    moco = _attention_model([120.0, 130.0])
    moco["uniform_attention_distance_px"] = _rows([125.0, 125.0])
    sentences = attention_conclusions({"models": {"moco": moco, RANDOM_INIT: _attention_model([99.5, 99.8])}})
    assert any(s.startswith("moco's attention distance as % of uniform attention on its own grid exceeds random "
                            "init's in 1 of 2 blocks") for s in sentences)

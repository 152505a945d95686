"""kamim_paper.evidence: baselines and measurements against known answers."""
import numpy as np
import pytest
import torch

from kamim_lib.config.loading import load_config
from kamim_lib.data import build_dataset
from kamim_paper.evidence import ablation
from kamim_paper.evidence.cache import MeasurementCache
from kamim_paper.evidence.checkpoint_measures import reconstruction_bench
from kamim_paper.evidence.probing import logistic_regression_top1, pixel_features
from kamim_paper.evidence.reconstruction import masked_pixel_errors
from kamim_paper.evidence.records import evidence_record, method_intervals
from kamim_paper.evidence.weighting import (
    error_by_density_decile,
    masked_patches,
    top_weight_share,
)
from kamim_paper.experiments.runs import Variant, per_seed, seeded_variants
from kamim_paper.results.artifacts import REPOSITORY_ROOT, from_repo, relative_to_repo
from kamim_paper.results.sentences import difference_verdict
from kamim_paper.sections import masking


def test_masked_pixel_errors_counts_masked_pixels_only():
    images = torch.zeros(2, 3, 4, 4)
    prediction = torch.ones(2, 3, 4, 4)
    prediction[:, :, :2, :2] = 5.0  # token (0, 0) wrong by 5, the others by 1
    masks = torch.tensor([[[1, 0], [0, 0]], [[0, 1], [1, 0]]])
    errors = masked_pixel_errors(prediction, images, masks, patch_size=2)
    assert errors.tolist() == pytest.approx([5.0, 1.0])
    # one prediction for every image (the image-blind predictor) broadcasts
    assert masked_pixel_errors(prediction[0], images, masks, 2).tolist() == pytest.approx([5.0, 1.0])


def test_image_blind_masked_l1_scores_the_one_prediction_on_masked_pixels(monkeypatch):
    from kamim_paper.evidence import reconstruction

    images = torch.zeros(2, 3, 4, 4)
    images[1] = 2.0
    masks = torch.tensor([[[1, 0], [0, 0]], [[0, 0], [0, 1]]])
    held_out = reconstruction.HeldOutSet(images, masks, patch_size=2)
    monkeypatch.setattr(reconstruction, "image_blind_prediction", lambda config, passes: torch.full((3, 4, 4), 0.5))
    # image 0: |0.5 - 0| = 0.5 on its masked pixels, image 1: |0.5 - 2| = 1.5 -> mean 1.0
    assert reconstruction.image_blind_masked_l1(None, held_out) == pytest.approx(1.0)


def test_logistic_regression_separates_separable_classes_and_pixels_pool():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 5.0], [5.0, 0.0], [-5.0, -5.0]])
    labels = np.repeat(np.arange(3), 40)
    features = centres[labels] + rng.normal(size=(120, 2))
    assert logistic_regression_top1(features[::2], labels[::2], features[1::2], labels[1::2]) == 100.0
    pooled = pixel_features(torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4), pixel_pool=2)
    assert pooled.shape == (2, 12) and pooled[0, 0] == pytest.approx((0 + 1 + 4 + 5) / 4)


def test_top_weight_share_known_answers():
    assert top_weight_share(torch.ones(3, 10, 10), 0.1) == pytest.approx(0.1)
    peaked = torch.full((1, 10, 10), 1e-9)
    peaked[0, 3, 4] = 1.0
    assert top_weight_share(peaked, 0.1) == pytest.approx(1.0, abs=1e-6)
    # 100 patches, top 10 hold weights 10 each, the rest 1: 100 / 190
    mixed = torch.ones(1, 100); mixed[0, :10] = 10.0
    assert top_weight_share(mixed.reshape(1, 10, 10), 0.1) == pytest.approx(100 / 190)


def test_error_by_density_decile_sorts_by_density():
    density = torch.arange(20, dtype=torch.float32).reshape(1, 4, 5)
    errors = 2 * density
    masked = torch.ones(1, 4, 5, dtype=torch.bool)
    masked[0, 0, 0] = False  # density 0 is not masked: left out
    rows = error_by_density_decile(errors, density, masked, bins=2)
    assert [row["patches"] for row in rows] == [10, 9]
    assert rows[0]["density_low"] == 1 and rows[1]["density_high"] == 19
    assert rows[0]["error_mean"] == pytest.approx(2 * np.mean(range(1, 11)))


def test_density_bins_put_no_keypoint_patches_in_one_bin_and_never_split_ties():
    from kamim_paper.evidence.weighting import density_bins

    # 6 patches without keypoints (in the middle of the order), then 1, 2, 2, 2, 3, 4, 4, 4, 4, 5
    density = torch.tensor([0.0, 1, 2, 0, 0, 2, 2, 3, 0, 4, 4, 4, 4, 5, 0, 0])
    bins = density_bins(density, bins=4)
    assert bins[0][0] == "no keypoints" and sorted(bins[0][1].tolist()) == [0, 3, 4, 8, 14, 15]
    values = [sorted(density[indices].tolist()) for _, indices in bins[1:]]
    # sorted: 1 2 2 2 3 | 4 4 4 4 5; ideal cuts at ranks 2, 5, 8: rank 2 would split the 2s (moves to 1, the
    # nearer change of value), 5 falls between 3 and 4 (stays), 8 would split the 4s (moves to 9, the nearer)
    assert values == [[1.0], [2.0, 2.0, 2.0, 3.0], [4.0, 4.0, 4.0, 4.0], [5.0]]
    assert [label for label, _ in bins[1:]] == ["Q 0–10 %", "Q 10–50 %", "Q 50–90 %", "Q 90–100 %"]
    for (_, first), (_, second) in zip(bins, bins[1:]):  # no density value in two bins
        assert not set(density[first].tolist()) & set(density[second].tolist())


def test_density_bins_merge_groups_that_only_ties_separate():
    from kamim_paper.evidence.weighting import density_bins

    # 20 patches: half at the per-image maximum 1.0 (as the normalised density often is), no zero density
    density = torch.cat([torch.linspace(0.05, 0.5, 10), torch.ones(10)])
    bins = density_bins(density, bins=10)
    assert bins[0][0] != "no keypoints" and len(bins) == 6  # five pairs of distinct values, then all the 1.0s
    assert [len(indices) for _, indices in bins] == [2, 2, 2, 2, 2, 10]
    assert density_bins(torch.zeros(5), bins=10)[0][0] == "no keypoints" and len(density_bins(torch.zeros(5))) == 1
    assert len(density_bins(torch.full((7,), 0.3), bins=10)) == 1  # one distinct value: one bin


def test_error_by_density_decile_records_counts_and_numbers_the_no_keypoint_bin_0():
    density = torch.tensor([[0.0, 0.0, 0.0, 0.5], [0.5, 1.0, 1.0, 0.0]])
    errors = torch.tensor([[1.0, 3.0, 5.0, 2.0], [4.0, 6.0, 8.0, 9.0]])
    masked = torch.tensor([[True, True, True, True], [True, True, True, False]])  # the last 0 is not masked
    rows = error_by_density_decile(errors, density, masked, bins=2)
    assert [row["decile"] for row in rows] == [0, 1, 2]
    assert [row["label"] for row in rows] == ["no keypoints", "Q 0–50 %", "Q 50–100 %"]
    assert [row["count"] for row in rows] == [3, 2, 2] and [row["patches"] for row in rows] == [3, 2, 2]
    assert [row["error_mean"] for row in rows] == pytest.approx([3.0, 3.0, 7.0])
    assert [(row["density_low"], row["density_high"]) for row in rows] == [(0, 0), (0.5, 0.5), (1, 1)]
    # the committed records' keys are all still there (consumers read them)
    assert {"decile", "density_low", "density_high", "density_mean", "error_mean", "patches"} <= set(rows[0])


def test_masked_patches_at_a_finer_weight_grid():
    masks = torch.tensor([[[1, 0], [0, 1]]])  # 2x2 tokens of 8 px
    patches = masked_patches(masks, model_patch_size=8, patch_size=4)
    assert patches.shape == (1, 4, 4)
    assert patches[0, :2, :2].all() and not patches[0, :2, 2:].any() and patches[0, 2:, 2:].all()


def test_evidence_record_form_and_verdict():
    record = evidence_record("top1", [0, 1, 2], {"simmim": [50.0, 52.0, 54.0], "kamim": [51.0, 53.0, 55.0]},
                             {"raw_pixels": 40.0, "random_init": 30.0})
    assert record["seeds"] == [0, 1, 2]
    assert record["top1"]["kamim"] == [51.0, 53.0, 55.0]
    assert record["paired_difference"]["metric"] == "top1"
    assert record["paired_difference"]["mean"] == pytest.approx(1.0)
    assert record["paired_difference"]["ci95"] == pytest.approx([1.0, 1.0])  # a constant difference
    assert method_intervals(record)["simmim"][0] == pytest.approx(52.0)
    assert "kamim is better" in difference_verdict(record)
    noisy = evidence_record("top1", [0, 1], {"simmim": [50.0, 52.0], "kamim": [53.0, 50.0]}, {})
    assert "cannot tell" in difference_verdict(noisy)
    with pytest.raises(ValueError, match="2 values for 3 seeds"):
        evidence_record("top1", [0, 1, 2], {"simmim": [1.0, 2.0], "kamim": [1.0, 2.0, 3.0]}, {})


def test_seeded_variants_are_paired_and_per_seed_orders_them():
    variants = seeded_variants([Variant("simmim", ("method=simmim",), {"method": "simmim"}),
                                Variant("kamim", ("method=kamim",), {"method": "kamim"})], [3, 1])
    assert [(v.label, v.overrides[-1]) for v in variants] == [("simmim", "seed=3"), ("kamim", "seed=3"),
                                                              ("simmim", "seed=1"), ("kamim", "seed=1")]
    results = [{"label": v.label, "fields": v.fields, "value": index} for index, v in enumerate(variants)]
    assert per_seed(results, lambda r: r["value"], [1, 3]) == {"simmim": [2, 0], "kamim": [3, 1]}


def test_committed_paths_are_relative_to_the_repository():
    inside = str(REPOSITORY_ROOT / "results" / "smoke" / "runs" / "x")
    record = relative_to_repo({"run_dir": inside, "list": [inside, "/elsewhere/file"], "n": 3})
    assert record == {"run_dir": "results/smoke/runs/x", "list": ["results/smoke/runs/x", "/elsewhere/file"], "n": 3}
    assert from_repo(record["run_dir"]) == REPOSITORY_ROOT / "results" / "smoke" / "runs" / "x"


def test_shuffled_weights_control_changes_the_kamim_loss_but_not_the_weight_values(tmp_path):
    """weight_shuffle=true permutes the batch's weights (seeded by the step) before the loss, nothing else."""
    from engine_fixtures import tiny_config

    from kamim_lib.engine.tasks import build_task
    from kamim_lib.runtime import Runtime

    plain = build_task(tiny_config(tmp_path), Runtime("cpu"))
    shuffled = build_task(tiny_config(tmp_path, weight_shuffle=True), Runtime("cpu"))
    shuffled.model.load_state_dict(plain.model.state_dict())
    batch = plain.collate([plain.train_dataset[i] for i in range(8)])
    seen = [plain.method.loss_weights(batch, seed=5), shuffled.method.loss_weights(batch, seed=5),
            shuffled.method.loss_weights(batch, seed=5), shuffled.method.loss_weights(batch, seed=6)]
    assert torch.equal(seen[0], batch["weights"])
    assert not torch.equal(seen[1], seen[0]) and torch.equal(seen[1], seen[2])  # seeded by the step
    assert not torch.equal(seen[1], seen[3])
    assert torch.equal(seen[1].flatten(1).sort(dim=1).values, seen[0].flatten(1).sort(dim=1).values)
    with torch.no_grad():
        plain_loss = plain.train_loss(plain.model, batch, 5)
        shuffled_loss = shuffled.train_loss(shuffled.model, batch, 5)
        again = shuffled.train_loss(shuffled.model, batch, 5)
    assert plain_loss != shuffled_loss and shuffled_loss == again



def test_the_held_out_set_is_as_large_as_the_probes_validation_set(tmp_path):
    """The ablation and masking sections measure the reconstruction error on ``max_eval_samples`` held-out images
    when their probe is cut (the paper dry run's 16), on the whole validation split otherwise."""

    base = {"model": "vit_nano", "dataset": "digits", "img_size": 64, "mask_patch_size": 16,
            "out_dir": str(tmp_path)}
    pretrain = load_config(base, section="pretrain")
    seen = []

    def bench(config, cache=None, *, max_images=None):
        seen.append(max_images)
        raise StopIteration  # what the bench is built with is all this test needs
    for cap, expected in ((["max_eval_samples=16"], 16), ([], None)):
        probe = load_config(base, cap, section="linprobe")
        for module, evidence in ((ablation, lambda: ablation.variants_evidence([], [0], pretrain, probe, pairs=[])),
                                 (masking, lambda: masking.masking_evidence([], [0], pretrain, probe))):
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(module, "reconstruction_bench", bench)
                with pytest.raises(StopIteration):
                    evidence()
            assert seen.pop() == expected, module.__name__
    whole = reconstruction_bench(pretrain, MeasurementCache(tmp_path / "cache"))
    assert len(whole.held_out.images) == len(build_dataset("digits", split="val")) > 16
    capped = reconstruction_bench(pretrain, MeasurementCache(tmp_path / "cache"), max_images=16)
    assert capped.held_out.images.shape == (16, 3, 64, 64) and capped.density.shape[0] == 16
    # a cut beyond the split's size leaves the whole split (as the probe's Subset does), not an error
    beyond = reconstruction_bench(pretrain, MeasurementCache(tmp_path / "cache"), max_images=10 ** 6)
    assert len(beyond.held_out.images) == len(whole.held_out.images)

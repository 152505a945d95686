"""Notebook 10's ``reconstruction_data="imagenet_val"``: the original's reconstruction scores over the whole
ImageNet-1K validation split through the squash, PSNR/SSIM accumulated over batches as torchmetrics' metric objects
do (checked against the one-batch re-implementation), with progress, resumable after an interruption."""
import json
import math

import numpy as np
import pytest
import torch

from kamim_lib.analysis.original_metrics import original_psnr, original_ssim
from kamim_lib.data.rehearsal import write_imagenet_rehearsal
from kamim_lib.models import create_model
from kamim_paper.experiments.analysis_models import RANDOM_INIT
from kamim_paper.experiments.analysis_session import AnalysisSetup
from kamim_paper.experiments.analysis_inputs import analysis_masks
from kamim_paper.experiments.reconstruction_scores import ScoreAccumulator, batch_mask_seed, score_data_set
from kamim_paper.sections import reconstructions
from kamim_paper.sections.params import ReconstructionParams


def _pairs(count, seed):
    generator = torch.Generator().manual_seed(seed)
    target = torch.randn(count, 3, 32, 32, generator=generator)
    return target + 0.5 * torch.randn(count, 3, 32, 32, generator=generator), target


def test_the_accumulated_scores_are_torchmetrics_over_the_loader():
    pred, target = _pairs(6, 0)
    mask = torch.ones(6, 2, 2, dtype=torch.int64)
    whole = ScoreAccumulator()
    whole.update(pred, target, mask)
    record = whole.record()
    assert record["original_convention"]["psnr_full"] == pytest.approx(original_psnr(pred, target), abs=1e-4)
    assert record["original_convention"]["ssim_full"] == pytest.approx(original_ssim(pred, target), abs=1e-5)
    # In batches of 4 and 2: PSNR is one MSE and one target range over everything (the same number); SSIM infers
    # its range per batch and averages over images.
    batched = ScoreAccumulator()
    batched.update(pred[:4], target[:4], mask[:4])
    batched = ScoreAccumulator(json.loads(json.dumps(batched.state())))  # survives a save and a resume
    batched.update(pred[4:], target[4:], mask[4:])
    record = batched.record()
    assert record["original_convention"]["psnr_full"] == pytest.approx(original_psnr(pred, target), abs=1e-4)
    expected_ssim = (4 * original_ssim(pred[:4], target[:4]) + 2 * original_ssim(pred[4:], target[4:])) / 6
    assert record["original_convention"]["ssim_full"] == pytest.approx(expected_ssim, abs=1e-5)
    assert record["num_images"] == 6 and set(record["mean"]) >= {"psnr_full", "psnr_masked"}


def test_params_check_the_choice():
    assert ReconstructionParams().reconstruction_data == "analysis"
    with pytest.raises(ValueError, match="reconstruction_data"):
        ReconstructionParams(reconstruction_data="imagenet")


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory):
    return write_imagenet_rehearsal(tmp_path_factory.mktemp("data") / "imagenet", train_per_class=1,
                                    val_per_class=1).root


class _Interrupt(Exception):
    pass


def test_an_interrupted_scoring_resumes_at_the_next_batch_with_the_same_numbers(tmp_path):
    torch.manual_seed(0)
    model = create_model("vit_nano").eval()
    size = model.img_size
    images = torch.randn(10, 3, size, size, generator=torch.Generator().manual_seed(2))
    data = torch.utils.data.TensorDataset(images, torch.zeros(10, dtype=torch.int64))
    masks_for = lambda index, count: analysis_masks(count, img_size=size, model_patch_size=model.patch_size,  # noqa
                                                    seed=batch_mask_seed(0, index))
    common = dict(mean_image=images.mean(0), masks_for=masks_for, batch_size=3, fingerprint={"run": 1},
                  num_figure_images=2, progress_every=1)
    whole = score_data_set({"m": model}, data, state_path=tmp_path / "a.json", log=lambda line: None, **common)
    lines = []

    def interrupt_after_two_batches(line):
        lines.append(line)
        if len(lines) == 2:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        score_data_set({"m": model}, data, state_path=tmp_path / "b.json", log=interrupt_after_two_batches, **common)
    resumed_lines = []
    resumed = score_data_set({"m": model}, data, state_path=tmp_path / "b.json", log=resumed_lines.append, **common)
    assert resumed_lines[0] == "resuming at batch 3 of 4 (6 of 10 images already scored)."
    assert resumed[0] == whole[0] and resumed[1] == whole[1] and resumed[0]["m"]["num_images"] == 10
    assert all(torch.equal(whole[2][key], resumed[2][key]) for key in whole[2])
    # Other settings: the state is not reused.
    again = []
    score_data_set({"m": model}, data, state_path=tmp_path / "b.json", log=again.append,
                   **{**common, "fingerprint": {"run": 2}})
    assert again[0].endswith("written for other settings; starting again.")
    # force: a finished state of the same settings is scored again, not returned (the scoring code may have
    # changed), with the same numbers here.
    forced = []
    rescored = score_data_set({"m": model}, data, state_path=tmp_path / "a.json", log=forced.append, restart=True,
                              **common)
    assert forced[0].endswith("scoring again from the first batch (force).")
    assert not any(line.startswith("resuming") for line in forced) and rescored[0] == whole[0]


def test_section_10_scores_every_imagenet_validation_image(imagenet, tmp_path):
    params = ReconstructionParams(dataset="imagenet", data_root=str(imagenet), reconstruction_data="imagenet_val",
                                  batch_size=500, floor_images=8, output_dir=str(tmp_path))
    lines = []
    result = reconstructions.compute(params, AnalysisSetup(model="vit_nano", checkpoints={}, sources={},
                                                           out_dir=tmp_path), log=lines.append, progress_every=1)
    assert lines == ["reconstructions: batch 1 of 2 (500 of 1000 images).",
                     "reconstructions: batch 2 of 2 (1000 of 1000 images)."]
    assert result.summary["images"]["num_images"] == 1000 and result.summary["images"]["dataset"] == "imagenet"
    record = result.summary["models"][RANDOM_INIT]
    assert record["num_images"] == 1000 and result.summary["floor"]["num_images"] == 1000
    assert math.isfinite(record["original_convention"]["psnr_full"])
    assert np.asarray(result.arrays["reference"]).shape[0] == 4
    assert reconstructions.conclusions(result)  # the sentences and the table read the streamed records
    assert "random" in reconstructions.scores_table(result).lower()

"""The original's analysis selection on data with Imagenette2-160's real validation class counts (3925 images):
its per-class 1/64 subsample holds 59 images, and a request for the original's attention batch of 64 takes all 59
and says so (the original's DataLoader did the same), instead of failing."""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from kamim_lib.data import build_dataset
from kamim_lib.data.rehearsal import IMAGENETTE2_VAL_COUNTS, write_imagenette_rehearsal
from kamim_paper.experiments import analysis_session
from kamim_paper.experiments.analysis_inputs import load_analysis_images, original_subsample_indices
from kamim_paper.results.summaries import summary_header


@dataclass
class _Parameters:
    seed: int = 0


@pytest.fixture(scope="module")
def imagenette(tmp_path_factory):
    return write_imagenette_rehearsal(tmp_path_factory.mktemp("data") / "imagenette2-160", train_per_class=1).root


def test_the_originals_batch_of_64_takes_all_59(imagenette):
    val = build_dataset("imagenette", root=imagenette, split="val")
    expected = original_subsample_indices(val.targets)
    # floor(n_c / 64) per class: 6 everywhere but cassette player (357 images: 5).
    assert [count // 64 for count in IMAGENETTE2_VAL_COUNTS.values()] == [6, 6, 5, 6, 6, 6, 6, 6, 6, 6]
    inputs = load_analysis_images("imagenette", root=imagenette, num_images=64, img_size=192,
                                  analysis_transform="original")
    assert inputs.images.shape == (59, 3, 192, 192) and inputs.indices.tolist() == expected
    assert inputs.labels.tolist() == [label for label, count in enumerate([6, 6, 5, 6, 6, 6, 6, 6, 6, 6])
                                      for _ in range(count)]
    assert inputs.requested == 64
    assert inputs.note.startswith("59 images analysed, not the 64 asked") and "took them all" in inputs.note
    # Asking for no more than the selection holds: the first ones, and nothing to say.
    first = load_analysis_images("imagenette", root=imagenette, num_images=16, img_size=192,
                                 analysis_transform="original")
    assert first.indices.tolist() == expected[:16] and first.note == ""


def test_a_seeded_subset_still_refuses_to_shrink(imagenette):
    with pytest.raises(ValueError, match="num_images=4000 but the 'imagenette' val split has only 3925 images"):
        load_analysis_images("imagenette", root=imagenette, num_images=4000, img_size=32, analysis_transform="eval")


def test_the_notebook_output_and_the_summary_say_how_many(imagenette, capsys):
    params = SimpleNamespace(dataset="imagenette", images_root=str(imagenette), split="val", seed=0,
                             analysis_transform="original", analysis_data_root=str(imagenette), data_root=None)
    inputs = analysis_session._load_images(params, 64, 192)
    assert "59 images analysed, not the 64 asked" in capsys.readouterr().out
    header = summary_header("attention", parameters=_Parameters(), model="vit_b", checkpoints={},
                            sources={}, images=inputs, dataset="imagenette", split="val", provenance={})
    assert header["images"]["num_images"] == 59 and header["images"]["note"] == inputs.note


def _grey_levels(images):
    """ImageNet-normalised float (..., 3, S, S) -> [0, 255] pixel values."""
    import torch

    from kamim_lib.data.normalization import IMAGENET_MEAN, IMAGENET_STD

    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (images * std + mean) * 255


def _timm_original(img_size):
    """The original's call (representation_analysis.ipynb / self_attention_analysis.ipynb): no interpolation."""
    from timm.data import transforms_factory as tff

    from kamim_lib.data.normalization import IMAGENET_MEAN, IMAGENET_STD

    return tff.transforms_imagenet_eval(img_size=img_size, mean=IMAGENET_MEAN, std=IMAGENET_STD)


@pytest.mark.parametrize("img_size", [192, 224])
def test_the_original_transform_is_timms_eval_transform_on_real_photos(img_size):
    """timm's transforms_imagenet_eval as the oracle (bilinear: timm's default, which the original did not
    override), on every bundled photo (square, 3:2 landscape, portrait): within 1 grey level."""
    from PIL import Image

    from kamim_lib.sample_photos import PHOTO_NAMES, load_photo
    from kamim_paper.experiments.analysis_inputs import original_analysis_transform

    ours, oracle = original_analysis_transform(img_size), _timm_original(img_size)
    bicubic_gap = 0.0
    for name in PHOTO_NAMES:
        photo = Image.fromarray(load_photo(name))
        got, want = _grey_levels(ours(photo)), _grey_levels(oracle(photo))
        assert got.shape == want.shape == (3, img_size, img_size)
        assert float((got - want).abs().max()) <= 1.0, name
        bicubic = _grey_levels(_timm_original_bicubic(img_size)(photo))
        bicubic_gap = max(bicubic_gap, float((bicubic - want).abs().max()))
    assert bicubic_gap > 1.0  # the test tells the two interpolations apart


def _timm_original_bicubic(img_size):
    from timm.data import transforms_factory as tff

    from kamim_lib.data.normalization import IMAGENET_MEAN, IMAGENET_STD

    return tff.transforms_imagenet_eval(img_size=img_size, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                                        interpolation="bicubic")


def test_the_originals_inputs_equal_timms_on_the_real_class_counts(imagenette):
    """Each of the 59 analysis inputs equals the original's call on the same file, within 1 grey level."""
    import torch
    from PIL import Image

    val = build_dataset("imagenette", root=imagenette, split="val")
    inputs = load_analysis_images("imagenette", root=imagenette, num_images=64, img_size=192,
                                  analysis_transform="original")
    oracle = _timm_original(192)
    want = torch.stack([oracle(Image.open(val.samples[int(index)][0]).convert("RGB")) for index in inputs.indices])
    assert float((_grey_levels(inputs.images) - _grey_levels(want)).abs().max()) <= 1.0

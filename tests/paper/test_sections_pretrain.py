"""The pretraining section's generated conclusions: known answers at the thresholds."""
from kamim_paper.sections import pretrain


def test_pixel_use_verdict_at_its_thresholds():
    assert pretrain.pixel_use_verdict(0.8) == "clearly uses the visible pixels"
    assert pretrain.pixel_use_verdict(0.81).startswith("beats the image-blind predictor, but by less than 20 %")
    assert pretrain.pixel_use_verdict(0.999).startswith("beats")
    assert pretrain.pixel_use_verdict(1.0).startswith("does NOT beat the image-blind predictor")


def test_conclusion_lines_name_each_method_then_the_paired_difference():
    evidence = {"baselines": {"image_blind": 0.9773}, "ratio_to_image_blind": {"simmim": 0.634, "kamim": 1.02},
                "seeds": [0, 1, 2],
                "paired_difference": {"a": "kamim", "b": "simmim", "metric": "val_masked_l1", "mean": 0.1283,
                                      "ci95": [0.1122, 0.1445]}}
    lines = pretrain.conclusion_lines(evidence)
    assert lines[0] == ("simmim: held-out masked L1 = 0.63 x the image-blind baseline (0.9773); it clearly uses the "
                        "visible pixels.")
    assert lines[1].startswith("kamim: held-out masked L1 = 1.02 x") and "does NOT beat" in lines[1]
    assert lines[2].endswith("the interval excludes 0; simmim is better on val_masked_l1 in this setting.")


def _bins(errors, labelled=True):
    return [{"decile": index, "error_mean": error,
             **({"label": "no keypoints" if index == 0 else f"bin {index}"} if labelled else {})}
            for index, error in enumerate(errors)]


def test_density_shift_compares_the_densest_bin_with_the_patches_without_keypoints():
    # KAMIM gains 0.05 in the densest bin and loses 0.10 on the patches without keypoints: a shift towards density.
    sentence = pretrain.density_shift_sentence({"simmim": _bins([0.5, 0.6, 0.7]), "kamim": _bins([0.6, 0.6, 0.65])})
    assert sentence.startswith("In the densest keypoint-density bin KAMIM's error is -0.0500 vs SimMIM's, on the "
                               "patches without keypoints +0.1000")
    assert sentence.endswith("shifts accuracy towards keypoint-dense patches.")
    unchanged = pretrain.density_shift_sentence({"simmim": _bins([0.5, 0.7], False), "kamim": _bins([0.4, 0.7], False)})
    assert "in the sparsest -0.1000" in unchanged and unchanged.endswith("does not shift accuracy towards "
                                                                          "keypoint-dense patches here.")
    assert pretrain.density_shift_sentence({"kamim": _bins([0.5])}) is None

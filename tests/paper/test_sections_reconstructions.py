"""Section 10's API (kamim_paper.sections.reconstructions): the left-out line, whether the paper's numbers stand
beside ours (its setting: ViT-B at mask ratio 0.4), the table and the generated conclusions, known answers; the
notebook runs end to end in test_analysis_notebooks.py."""
from kamim_paper.sections import reconstructions
from kamim_paper.sections.outputs import SectionResult

PAPER = {"psnr_range": [12.06, 12.09], "ssim_range": [0.108, 0.115], "mask_ratio": 0.4, "paper_model": "vit_b"}


def _record(psnr, ssim):
    return {"original_convention": {"psnr_full": psnr, "ssim_full": ssim},
            "mean": {"psnr_masked": psnr - 1, "psnr_full": psnr, "ssim_masked": ssim, "ssim_full": ssim}}


def _summary(model="vit_b", mask_ratio=0.4):
    return {"model": model, "parameters": {"mask_ratio": mask_ratio}, "paper": PAPER, "provenance": {},
            "images": {"num_images": 6}, "models": {"kamim": _record(14.0, 0.30)}, "floor": _record(12.5, 0.10)}


def test_the_left_out_line_names_the_models_without_a_decoder():
    assert reconstructions.left_out_sentence(["moco", "moco2"]) == ("left out (no reconstruction decoder): moco, "
                                                                     "moco2")
    assert reconstructions.left_out_sentence([]) is None


def test_the_papers_numbers_stand_beside_ours_only_in_its_setting():
    assert reconstructions.in_paper_setting(_summary())
    assert not reconstructions.in_paper_setting(_summary(model="vit_micro12"))
    assert not reconstructions.in_paper_setting(_summary(mask_ratio=0.6))


def test_the_table_carries_the_papers_range_only_in_its_setting(tmp_path):
    params = reconstructions.Params(profile="tiny", dataset="textured_digits")
    table = reconstructions.scores_table(SectionResult("reconstructions", params, tmp_path, _summary()))
    assert (tmp_path / "tables" / "reconstructions.md").read_text() == table
    assert "| KAMIM | psnr_full | original: torchmetrics, normalised pixels, batch | 14.000 | 12.06–12.09 |" in table
    other = reconstructions.scores_table(SectionResult("reconstructions", params, tmp_path, _summary(mask_ratio=0.6)))
    assert "12.06–12.09" not in other


def test_the_conclusions_compare_with_the_paper_only_in_its_setting(tmp_path):
    params = reconstructions.Params(profile="tiny", dataset="textured_digits")
    lines = reconstructions.conclusions(SectionResult("reconstructions", params, tmp_path, _summary())).splitlines()
    assert lines[0] == ("- KAMIM: PSNR 14.00 dB, SSIM 0.300 (original's convention, full image); masked-region PSNR "
                        "13.00 dB (kamim's convention); +1.50 dB and SSIM +0.200 against the image-blind floor.")
    assert lines[-1] == ("- The paper's PSNR 12.06–12.09 dB is -0.44 to -0.41 dB against this floor, measured here "
                         "on these images.")
    elsewhere = reconstructions.conclusions(SectionResult("reconstructions", params, tmp_path,
                                                          _summary(model="vit_micro12"))).splitlines()
    assert elsewhere[-1] == ("- The paper's PSNR 12.06–12.09 dB (ViT-B, mask ratio 0.4) is not comparable with this "
                             "run (vit_micro12, mask ratio 0.4).")

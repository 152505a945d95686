"""The analysis notebooks (07–10) under papermill on a fake pretraining record of vit_nano checkpoints, where the
paper dry run's test (test_paper_dryrun_analyses.py, all four at the paper's sizes) does not reach: reconstructions
scored per image on the analysis images (the dry run scores the ImageNet validation split), a rerun that reuses
its summary, and MoCo v3 beside the profile's runs. Tiny parameters: 6 digits images at vit_nano's 64 px (a 4 x 4
token grid, 8 blocks)."""
import json
import math

import pytest
import torch

from kamim_lib.models import create_model
from kamim_paper.experiments.analysis_models import RANDOM_INIT
from kamim_paper.original.moco_v3 import moco_v3_model
from kamim_paper.results.artifacts import record_pretrained_checkpoints
from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
from kamim_paper.runner.runner import run_notebook

pytestmark = pytest.mark.slow

LABELS = ["simmim", "kamim", RANDOM_INIT]
COMMON = {"num_images": 6, "batch_size": 4, "device": "cpu", "seed": 0}
TINY = {
    "attention": {**COMMON, "num_map_images": 2, "head": 1, "query": [1, 2]},
    "fourier": dict(COMMON),
    "reconstructions": {**COMMON, "num_figure_images": 2, "mask_ratio": 0.4, "mask_patch_size": 32,
                        "floor_images": 16},
}
FIGURES = {"fourier": ["fourier_delta_log_amplitude.png"], "reconstructions": ["reconstructions.png"]}
PER_LAYER = {"fourier": {"delta_log_amplitude": 9, "profiles": 9}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """An output folder holding a pretraining record of two vit_nano checkpoints, and a throwaway profile."""
    out = tmp_path_factory.mktemp("analysis")
    paths = {}
    for index, method in enumerate(("simmim", "kamim")):
        torch.manual_seed(100 + index)
        paths[method] = out / "pretrain" / f"{method}.pth"
        paths[method].parent.mkdir(parents=True, exist_ok=True)
        torch.save(create_model("vit_nano").state_dict(), paths[method])
    record_pretrained_checkpoints(out, paths, model="vit_nano")
    (out / "test_profile.yaml").write_text("description: analysis notebook test\nparameters: {}\n")
    return out


def run(section_name, run_dir, **extra):
    section = next(s for s in SECTIONS if s.name == section_name)
    parameters = {"profile": str(run_dir / "test_profile.yaml"), "output_dir": str(run_dir),
                  **TINY[section_name], **extra}
    return run_notebook(section, notebooks_dir() / section.notebook, parameters, run_dir)


def finite(values):
    flat = [v for item in values for v in (item if isinstance(item, list) else [item])]
    return flat and all(isinstance(v, float) and math.isfinite(v) for v in flat)


def check_outputs(section, run_dir):
    summary = json.loads((run_dir / section / "summary.json").read_text())
    assert list(summary["models"]) == LABELS
    assert summary["model"] == "vit_nano" and summary["checkpoints"][RANDOM_INIT] is None
    assert summary["checkpoint_sources"]["kamim"] == "pretraining record"
    for label in LABELS:
        for metric, layers in PER_LAYER.get(section, {}).items():
            rows = summary["models"][label][metric]
            assert len(rows["layer"]) == len(rows["value"]) == layers, (section, label, metric)
            assert finite(rows["value"]), (section, label, metric)
    for name in FIGURES[section]:
        assert (run_dir / "figures" / name).stat().st_size > 1000
    notebook = next(s for s in SECTIONS if s.name == section).notebook
    executed = json.loads((run_dir / "notebooks" / notebook).read_text())
    outputs = json.dumps([cell.get("outputs", []) for cell in executed["cells"]])
    assert "IProgress" not in outputs and "TqdmWarning" not in outputs
    assert "".join(executed["cells"][-2]["source"]).startswith("## Conclusion")
    # One call into the section module per step; its generated conclusions display as a Markdown list.
    assert "".join(executed["cells"][-1]["source"]) == f"{section}.conclusions(result)"
    assert "".join(executed["cells"][-1]["outputs"][0]["data"]["text/markdown"]).startswith("- ")
    return summary


def test_reconstructions_notebook_scores_each_analysis_image_under_both_conventions(run_dir):
    assert run("reconstructions", run_dir) == "ran"
    summary = check_outputs("reconstructions", run_dir)
    for label in LABELS:
        means = summary["models"][label]["mean"]
        assert set(means) == {"psnr_masked", "psnr_full", "ssim_masked", "ssim_full"} and finite(list(means.values()))
        assert len(summary["models"][label]["per_image"]["ssim_masked"]) == 6
        assert set(summary["models"][label]["original_convention"]) == {"psnr_full", "ssim_full"}
    assert finite(list(summary["floor"]["mean"].values()))
    table = (run_dir / "tables" / "reconstructions.md").read_text()
    assert "| random init | psnr_masked | kamim: per image, [0, 1] pixels |" in table and "n/a" in table
    assert "| image-blind floor (training-set mean image) | psnr_full | original:" in table


def test_a_rerun_with_the_same_results_parameters_reuses_the_summary(run_dir):
    """Changing only the device re-runs the notebook (new fingerprint) but not the computation (the summary,
    provenance date included, is untouched); figures are redrawn from it. Which parameter changes trigger a
    recomputation is pinned by test_analysis_collect.py::test_should_compute_tracks_result_parameters."""
    assert run("fourier", run_dir) == "ran"
    check_outputs("fourier", run_dir)
    before = (run_dir / "fourier" / "summary.json").read_text()
    figure = run_dir / "figures" / "fourier_delta_log_amplitude.png"
    figure.unlink()
    assert run("fourier", run_dir, device="auto") == "ran"
    assert (run_dir / "fourier" / "summary.json").read_text() == before
    assert figure.exists()


def test_attention_notebook_puts_moco_v3_beside_the_profiles_runs(run_dir, tmp_path):
    """checkpoints {simmim: None, kamim: None, moco: path}: the record's runs plus a MoCo v3-format checkpoint at its
    own input size (96 px here: a 6 x 6 grid beside the 4 x 4 one), loaded strictly; the notebook's loader report
    replays the original's MoCo path."""
    moco = moco_v3_model("vit_nano", img_size=96)
    path = tmp_path / "moco.pth.tar"
    torch.save({"epoch": 1, "state_dict": {f"module.base_encoder.{key[len('encoder.'):]}": value
                                           for key, value in moco.state_dict().items()
                                           if key.startswith("encoder.") and key != "encoder.mask_token"}}, path)
    out = tmp_path / "out"
    (out / "pretrain").mkdir(parents=True)
    (out / "pretrain" / "checkpoints.json").write_text((run_dir / "pretrain" / "checkpoints.json").read_text())
    (out / "test_profile.yaml").write_text("description: moco test\nparameters: {}\n")
    section = next(s for s in SECTIONS if s.name == "attention")
    parameters = {"profile": str(out / "test_profile.yaml"), "output_dir": str(out), **TINY["attention"],
                  "query": None, "checkpoints": {"simmim": None, "kamim": None, "moco": str(path)}}
    assert run_notebook(section, notebooks_dir() / section.notebook, parameters, out) == "ran"
    summary = json.loads((out / "attention" / "summary.json").read_text())
    assert list(summary["models"]) == ["simmim", "kamim", "moco", RANDOM_INIT]
    uniform = {label: entries["uniform_attention_distance_px"]["value"][0]
               for label, entries in summary["models"].items()}
    assert uniform["moco"] > uniform["simmim"]                       # 6 x 6 grid vs 4 x 4
    assert summary["attention_maps"]["queries"]["moco"] == [3, 3]    # the centre of its own grid
    reports = json.loads((out / "attention" / "original_loader.json").read_text())
    assert reports["moco"]["outcomes"][0]["loader"] == "moco_v3" and reports["moco"]["strict_ok"]

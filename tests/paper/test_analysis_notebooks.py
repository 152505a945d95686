"""The four analysis notebooks (07–10) run end to end under papermill on a fake pretraining record of vit_nano
checkpoints, and write finite per-layer numbers for SimMIM, KAMIM and the random-init baseline, their figures and
tables. Tiny parameters: 6 digits images at vit_nano's 64 px (a 4 x 4 token grid, 8 blocks)."""
import json
import math

import pytest
import torch

from kamim_paper.experiments.analysis_models import RANDOM_INIT
from kamim_lib.models import create_model
from kamim_paper.results.artifacts import record_pretrained_checkpoints
from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
from kamim_paper.runner.runner import run_notebook

pytestmark = pytest.mark.slow

LABELS = ["simmim", "kamim", RANDOM_INIT]
COMMON = {"num_images": 6, "batch_size": 4, "device": "cpu", "seed": 0}
TINY = {
    "attention": {**COMMON, "num_map_images": 2, "head": 1, "query": [1, 2]},
    "fourier": dict(COMMON),
    "tokens": {**COMMON, "perplexity": 10.0, "tsne_layer": 4, "pca_block": 3},
    "reconstructions": {**COMMON, "num_figure_images": 2, "mask_ratio": 0.4, "mask_patch_size": 32,
                        "floor_images": 16},
}
FIGURES = {
    "attention": ["attention_distance_nmi.png", "attention_maps.png"],
    "fourier": ["fourier_delta_log_amplitude.png"],
    "tokens": ["tokens_tsne.png", "tokens_pre_post_attention_pca.png", "tokens_homogeneity.png"],
    "reconstructions": ["reconstructions.png"],
}
PER_LAYER = {
    "attention": {"attention_distance_px": 8, "nmi": 8, "attention_distance_px_per_head": 8, "nmi_per_head": 8},
    "fourier": {"delta_log_amplitude": 9, "profiles": 9},
    "tokens": {"token_cosine_similarity_pre_attention": 8, "token_cosine_similarity_post_attention": 8},
}


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


@pytest.mark.parametrize("section", list(TINY))
def test_analysis_notebook_writes_per_layer_numbers_figures_and_tables(section, run_dir):
    assert run(section, run_dir) == "ran"
    summary = check_outputs(section, run_dir)
    if section == "attention":
        assert summary["attention_maps"] == {"block": 8, "head": 1, "query": [1, 2], "num_images": 2,
                                             "queries": {label: [1, 2] for label in LABELS}}
        reports = json.loads((run_dir / "attention" / "original_loader.json").read_text())
        # The fake record's checkpoints are kamim-format: the original's notebooks would have loaded nothing.
        assert reports["kamim"]["outcomes"][0]["tensors_set"] == 0
        assert reports["kamim"]["outcomes"][0]["identical_to_random_init"] and reports["kamim"]["strict_ok"]
        uniform = summary["models"][RANDOM_INIT]["uniform_attention_distance_px"]["value"][0]
        assert abs(summary["models"][RANDOM_INIT]["attention_distance_px"]["value"][0] - uniform) < 0.5
        assert "| 12 | n/a | n/a | n/a | 68.0 | 99.8 |" in (run_dir / "tables" /
                                                           "attention_attention_distance_px.md").read_text()
    if section == "fourier":
        assert summary["models"]["kamim"]["delta_log_amplitude"]["layer"][0] == "x"
        assert summary["paper"]["delta_log_amplitude"]["simmim"]["value"][0] == -0.92
    if section == "tokens":
        assert summary["tokens"] == {"tsne_layer": 4, "pca_block": 3, "num_tokens": 6 * 16}
        assert all(len(summary["models"][label]["pca_explained_variance_ratio"]) == 2 for label in LABELS)
        assert all(-1 <= summary["models"][label]["tsne_image_silhouette"] <= 1 for label in LABELS)
    if section == "reconstructions":
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
    if not (run_dir / "fourier" / "summary.json").exists():
        assert run("fourier", run_dir) == "ran"
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
    from kamim_paper.original.moco_v3 import moco_v3_model

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

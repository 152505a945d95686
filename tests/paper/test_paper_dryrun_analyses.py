"""The paper dry run's analysis notebooks (07–10) on the rehearsal data, through the runner (docs/paper-rehearsal.md).

`kamim rehearsal-data` writes the ImageNet-1K and Imagenette2-160 layouts; `reproduce(only=the four analyses)` runs
notebook 02 (the pretraining record the analyses read) and 07–10 with the `paper-dryrun` profile. Every analysis
notebook gets exactly the parameters the dry run gives it (checked): ViT-B's inputs at 192 px, 64 images asked of
the original's per-class 1/64 subsample (59 there), the query token (8, 3), maps of images 16–56, the t-SNE of
hidden state 11, the PCA of block 12, and the reconstructions over the whole ImageNet validation folder.

The one change is the architecture the pretraining runs train: ViT-Ti (``model=vit_t`` added to the profile's
``train_overrides``, which no analysis notebook reads) instead of ViT-B. ViT-Ti has ViT-B's geometry (192 px,
16-px patches: a 12 x 12 token grid, 12 blocks; checked), so every position above means what it means for ViT-B,
at about a fifteenth of the arithmetic; `kamim reproduce --profile paper-dryrun` runs the same path with ViT-B.

Besides the dry run's own choices (the 59 images, the query, the blocks, the whole validation folder), it checks
what every analysis notebook writes at the paper's sizes (finite per-block numbers for SimMIM, KAMIM and the
random-init baseline, figures, tables, the generated conclusions, the original loader's verdict).

It costs about 5.5 CPU minutes (2-core VM, one torch thread as under pytest-xdist: 330 s, section 10's 1000 images
204 s of it). Marked ``long``: tests/conftest.py collects it first, so pytest-xdist runs it on one worker while the
other takes the short files (docs/paper-rehearsal.md: what it adds to CI). At toy sizes the same notebooks run in
test_analysis_notebooks.py only where that covers what this does not (the per-image reconstruction convention, the
rerun, MoCo v3).
"""
from __future__ import annotations

import json
import math
import time

import pytest

from kamim_lib.data.rehearsal import write_rehearsal_data
from kamim_lib.models.registry import model_arch
from kamim_paper.experiments.analysis_models import RANDOM_INIT
from kamim_paper.results.run_report import REPORT_NAME
from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
from kamim_paper.runner.profiles import load_profile
from kamim_paper.runner.runner import parameters_for, reproduce

pytestmark = [pytest.mark.slow, pytest.mark.long]

ANALYSES = ["attention", "fourier", "tokens", "reconstructions"]
CI_MODEL = "vit_t"
LABELS = ["simmim", "kamim", RANDOM_INIT]
BLOCKS = 12
FIGURES = {
    "attention": ["attention_distance_nmi.png", "attention_maps.png"],
    "fourier": ["fourier_delta_log_amplitude.png"],
    "tokens": ["tokens_tsne.png", "tokens_pre_post_attention_pca.png", "tokens_homogeneity.png"],
    "reconstructions": ["reconstructions.png"],
}
PER_BLOCK = {  # metric -> rows: one per block, Fourier's also the input ("x")
    "attention": {"attention_distance_px": BLOCKS, "nmi": BLOCKS, "attention_distance_px_per_head": BLOCKS,
                  "nmi_per_head": BLOCKS},
    "fourier": {"delta_log_amplitude": BLOCKS + 1, "profiles": BLOCKS + 1},
    "tokens": {"token_cosine_similarity_pre_attention": BLOCKS, "token_cosine_similarity_post_attention": BLOCKS},
    "reconstructions": {},
}


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper_dryrun")
    # One training image per class is enough: the dry run trains on the first 8. Validation as the command's
    # default (1 per class: 1000 images), which the reconstructions score in full.
    data = write_rehearsal_data(root / "data", imagenet_train_per_class=1)
    dryrun = load_profile("paper-dryrun").with_overrides(
        [f"data_root={data.imagenet.root}", f"analysis_data_root={data.imagenette.root}", "device=cpu"])
    overrides = [*dryrun.parameters["train_overrides"], f"model={CI_MODEL}"]
    ci = dryrun.with_overrides([f"train_overrides={json.dumps(overrides)}"])
    lines: list[str] = []
    start = time.monotonic()
    failures = reproduce(ci, only=ANALYSES, out_dir=root / "out", log=lines.append)
    return {"out": root / "out", "failures": failures, "log": lines, "dryrun": dryrun, "ci": ci,
            "data": data, "seconds": time.monotonic() - start}


def _summary(dry_run, section: str) -> dict:
    return json.loads((dry_run["out"] / section / "summary.json").read_text())


def test_the_ci_architecture_has_vit_bs_geometry():
    ours, theirs = model_arch(CI_MODEL), model_arch("vit_b")
    assert (ours.img_size, ours.patch_size, ours.depth) == (theirs.img_size, theirs.patch_size, theirs.depth)


def test_every_analysis_notebook_gets_the_dry_runs_parameters(dry_run, tmp_path):
    for section in (s for s in SECTIONS if s.name in ANALYSES):
        notebook = notebooks_dir() / section.notebook
        ours, theirs = (parameters_for(section, profile, notebook, force=False, output_dir=tmp_path)
                        for profile in (dry_run["ci"], dry_run["dryrun"]))
        assert ours == theirs, section.name
        assert "train_overrides" not in ours


def test_pretraining_and_the_four_analyses_run(dry_run):
    assert dry_run["failures"] == [], "\n".join(dry_run["log"])
    report = json.loads((dry_run["out"] / REPORT_NAME).read_text())
    assert report["profile"] == "paper-dryrun"
    assert {name: entry["outcome"] for name, entry in report["sections"].items()} == \
        dict.fromkeys(["pretrain", *ANALYSES], "ok")
    record = json.loads((dry_run["out"] / "pretrain" / "checkpoints.json").read_text())
    assert record["model"] == CI_MODEL and sorted(record["checkpoints"]) == ["kamim", "simmim"]
    for section in ANALYSES:
        summary = _summary(dry_run, section)
        assert summary["model"] == CI_MODEL
        assert summary["checkpoint_sources"]["kamim"] == summary["checkpoint_sources"]["simmim"] == \
            "pretraining record"
    print(f"pretraining + notebooks 07-10 on the rehearsal data: {dry_run['seconds']:.0f} s")


def test_attention_analyses_the_59_images_of_the_originals_subsample(dry_run):
    images = _summary(dry_run, "attention")["images"]
    assert images["dataset"] == "imagenette" and images["split"] == "val" and images["num_images"] == 59
    assert images["note"].startswith("59 images analysed, not the 64 asked")
    # The first images of every class's 1/64 subsample: cassette player's 357 give 5, the others 6.
    assert images["labels"].count(2) == 5 and all(images["labels"].count(c) == 6 for c in range(10) if c != 2)
    summary = _summary(dry_run, "attention")
    assert summary["attention_maps"]["query"] == [8, 3]
    assert all(len(summary["models"][label]["nmi"]["value"]) == 12 for label in summary["models"])


def test_fourier_and_tokens_analyse_the_first_16_images(dry_run):
    for section in ("fourier", "tokens"):
        images = _summary(dry_run, section)["images"]
        assert images["num_images"] == 16 and images["indices"][:7] == [0, 1, 2, 3, 4, 5, 387], section


def test_reconstructions_score_the_whole_rehearsal_imagenet_val(dry_run):
    summary = _summary(dry_run, "reconstructions")
    assert summary["images"]["dataset"] == "imagenet" and summary["images"]["split"] == "val"
    assert summary["images"]["num_images"] == dry_run["data"].imagenet.images["val"] == 1000
    assert {"simmim", "kamim"} <= set(summary["models"])


def _finite(values) -> bool:
    flat = [v for item in values for v in (item if isinstance(item, list) else [item])]
    return bool(flat) and all(isinstance(v, float) and math.isfinite(v) for v in flat)


@pytest.mark.parametrize("section", ANALYSES)
def test_every_analysis_writes_finite_per_block_numbers_figures_and_its_conclusions(dry_run, section):
    summary = _summary(dry_run, section)
    assert list(summary["models"]) == LABELS and summary["checkpoints"][RANDOM_INIT] is None
    for label in LABELS:
        for metric, rows in PER_BLOCK[section].items():
            entry = summary["models"][label][metric]
            assert len(entry["layer"]) == len(entry["value"]) == rows, (label, metric)
            assert _finite(entry["value"]), (label, metric)
    for name in FIGURES[section]:
        assert (dry_run["out"] / "figures" / name).stat().st_size > 1000, name
    notebook = next(s for s in SECTIONS if s.name == section).notebook
    cells = json.loads((dry_run["out"] / "notebooks" / notebook).read_text())["cells"]
    outputs = json.dumps([cell.get("outputs", []) for cell in cells])
    assert "IProgress" not in outputs and "TqdmWarning" not in outputs and '"error"' not in outputs
    assert "".join(cells[-2]["source"]).startswith("## Conclusion")
    # One call into the section module per step; its generated conclusions display as a Markdown list.
    assert "".join(cells[-1]["source"]) == f"{section}.conclusions(result)"
    assert "".join(cells[-1]["outputs"][0]["data"]["text/markdown"]).startswith("- ")


def test_the_originals_loader_would_have_loaded_nothing_of_our_checkpoints(dry_run):
    """Our checkpoints are kamim-format: the original's (strict=False) load would have set no tensor, leaving its
    random init; our strict load takes them whole. An untrained ViT attends almost uniformly."""
    reports = json.loads((dry_run["out"] / "attention" / "original_loader.json").read_text())
    for method in ("simmim", "kamim"):
        outcome = reports[method]["outcomes"][0]
        assert outcome["tensors_set"] == 0 and outcome["identical_to_random_init"] and reports[method]["strict_ok"]
    random_init = _summary(dry_run, "attention")["models"][RANDOM_INIT]
    assert abs(random_init["attention_distance_px"]["value"][0]
               - random_init["uniform_attention_distance_px"]["value"][0]) < 0.5
    table = (dry_run["out"] / "tables" / "attention_attention_distance_px.md").read_text()
    last_block = next(line for line in table.splitlines() if line.startswith("| 12 |"))
    assert last_block.endswith("| 68.0 | 99.8 |") and "n/a" not in last_block   # ours beside the paper's


def test_fourier_starts_at_the_input_and_tokens_use_the_originals_layers(dry_run):
    fourier = _summary(dry_run, "fourier")
    assert fourier["models"]["kamim"]["delta_log_amplitude"]["layer"][0] == "x"
    assert fourier["paper"]["delta_log_amplitude"]["simmim"]["value"][0] == -0.92
    tokens = _summary(dry_run, "tokens")
    assert tokens["tokens"] == {"tsne_layer": 11, "pca_block": 12, "num_tokens": 16 * 144}
    for label in LABELS:
        assert len(tokens["models"][label]["pca_explained_variance_ratio"]) == 2
        assert -1 <= tokens["models"][label]["tsne_image_silhouette"] <= 1


def test_reconstructions_keep_both_conventions_and_the_floor(dry_run):
    summary = _summary(dry_run, "reconstructions")
    for label in LABELS:
        assert set(summary["models"][label]["original_convention"]) == {"psnr_full", "ssim_full"}
        assert _finite(list(summary["models"][label]["mean"].values()))
    assert _finite(list(summary["floor"]["mean"].values()))

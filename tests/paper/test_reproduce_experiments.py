"""The training notebooks' library side: override routing, run naming, variants, "pretrain then evaluate", table rows,
loss curves, plots and the parameter schemas of notebooks 02-06."""
import json
import math
import re
from pathlib import Path

import pytest
import torch
import yaml

from kamim_lib.config import load_config, run_dir
from kamim_paper.results.tables import experiments as experiment_tables
from kamim_paper.experiments import runs as experiments
from kamim_paper.results.figures.experiments import plot_heatmaps, plot_loss_curves, plot_metric_bars
from kamim_paper.runner.parameters import notebook_parameters
from kamim_paper.runner.profiles import params_dir
from kamim_paper.sections.params import (DetectorAblationParams, FinetuneParams, LinearProbeParams, PeersParams,
                                        PretrainParams, SweepParams)
from kamim_paper.experiments.training import (check_training_setup, resolve_train_config, stage_overrides,
                                              training_setup)

# vit_nano on 32-px digits, a few seconds per run on one CPU thread (cf. tests/engine_fixtures.py).
TINY_TRAIN = {
    "model": "vit_nano", "dataset": "digits", "dataset_options": {"image_size": 32}, "img_size": 32,
    "batch_size": 16, "effective_batch_size": None, "epochs": 1, "warmup_epochs": 0, "max_train_samples": 64,
    "num_workers": 0, "num_threads": 1, "device": "cpu", "progress": False,
    "pretrain": {"mask_patch_size": 16, "lr": 1e-3, "min_lr": 1e-5},
    "finetune": {"lr": 2e-3, "augment": "eval", "mixup_alpha": 0.0, "cutmix_alpha": 0.0, "max_eval_samples": 32},
    "linprobe": {"lr": 1e-2, "augment": "eval", "mixup_alpha": 0.0, "cutmix_alpha": 0.0, "probe_layer": 4,
                 "knn_k": 5, "max_eval_samples": 32},
}


@pytest.fixture
def train_yaml(tmp_path) -> Path:
    path = tmp_path / "tiny_train.yaml"
    path.write_text(yaml.safe_dump(TINY_TRAIN))
    return path


# --- overrides and run naming ---------------------------------------------------------------------------------


def test_stage_overrides_route_plain_keys_to_the_commands_that_have_them():
    overrides = ["epochs=2", "mask_ratio=0.5", "probe_layer=4", "linprobe.epochs=5", "pretrain.lr=0.01"]
    assert stage_overrides(overrides, "pretrain") == ["epochs=2", "mask_ratio=0.5", "lr=0.01"]
    # the prefixed entry comes last, so it wins over the plain one
    assert stage_overrides(overrides, "linprobe") == ["epochs=2", "probe_layer=4", "epochs=5"]
    assert stage_overrides(overrides, "finetune") == ["epochs=2"]


@pytest.mark.parametrize("entry, message", [
    ("epochz=2", "did you mean 'epochs'"),
    ("probe.epochs=2", "prefix must be one of"),
    ("epochs", "key=value"),
    ("out_dir=/tmp/x", "output_dir"),
    ("device=cuda", "device"),
])
def test_stage_overrides_reject_bad_entries(entry, message):
    with pytest.raises(ValueError, match=message):
        stage_overrides([entry], "pretrain")


def test_train_config_is_resolved_under_params_or_absolute(train_yaml):
    assert resolve_train_config("train/smoke.yaml") == params_dir() / "train" / "smoke.yaml"
    assert resolve_train_config(str(train_yaml)) == train_yaml
    with pytest.raises(ValueError, match="train_config='train/nope.yaml'.*smoke.yaml"):
        resolve_train_config("train/nope.yaml")


def test_setup_writes_runs_under_output_dir_and_probes_the_same_run_the_engine_derives(train_yaml, tmp_path):
    setup = training_setup(str(train_yaml), ["epochs=1", "linprobe.lr=0.05"], tmp_path / "out", "cpu")
    pretrain = setup.pretrain_config(["method=simmim"])
    assert pretrain.method == "simmim" and pretrain.out_dir == str((tmp_path / "out" / "runs").resolve())
    probe = setup.classifier_config("linprobe", ["method=simmim"])
    assert probe.lr == 0.05 and probe.pretrained == str(run_dir(pretrain))
    # `kamim linprobe --config X --set method=simmim out_dir=...` names the same pretrain run and the same probe run
    derived = load_config(train_yaml, ["method=simmim", f"out_dir={pretrain.out_dir}", "lr=0.05"], section="linprobe")
    assert derived.pretrained == probe.pretrained and run_dir(derived) == run_dir(probe)
    # the variant wins over the notebook's overrides, even prefixed ones (a T sweep stays a sweep)
    swept = training_setup(str(train_yaml), ["pretrain.temperature=0.5"], tmp_path, "cpu")
    assert swept.pretrain_config(["temperature=2.0"]).temperature == 2.0
    assert swept.pretrain_config().temperature == 0.5
    # an explicit checkpoint replaces the pretrain run
    assert setup.classifier_config("finetune", ["method=kamim"], pretrained="scratch").pretrained == "scratch"
    with pytest.raises(ValueError, match="protocol"):
        setup.classifier_config("pretrain", ["method=kamim"])


def test_check_training_setup_names_the_bad_variant(train_yaml):
    check_training_setup(str(train_yaml), ["epochs=2"], "cpu")
    with pytest.raises(ValueError, match="epochs"):
        check_training_setup(str(train_yaml), ["epochs=0"], "cpu")
    with pytest.raises(ValueError, match="variant method=kamim weight_patch_size=7: .*weight_patch_size=7 must divide"):
        check_training_setup(str(train_yaml), [], "cpu", stages=("pretrain",),
                             variants=[["method=kamim", "weight_patch_size=7"]])


# --- variants ---------------------------------------------------------------------------------------------------


def test_variants():
    assert [v.overrides for v in experiments.method_variants(["kamim", "simmim"])] == [("method=kamim",),
                                                                                     ("method=simmim",)]
    detectors = experiments.detector_variants(["sift", "orb"])
    assert [v.label for v in detectors] == ["simmim", "kamim sift", "kamim orb"]
    assert detectors[1].overrides == ("method=kamim", "detector=sift") and detectors[0].fields["detector"] == "none"
    assert [v.label for v in experiments.detector_variants(["fast"], include_simmim=False)] == ["kamim fast"]


def test_sweep_grid_is_row_major_with_an_optional_simmim_reference():
    grid = experiments.sweep_variants([8, 16], [0.25, 1])
    assert [(v.fields["weight_patch_size"], v.fields["temperature"]) for v in grid] == [
        (8, 0.25), (8, 1.0), (16, 0.25), (16, 1.0)]
    assert grid[1].overrides == ("method=kamim", "weight_patch_size=8", "temperature=1.0")
    with_reference = experiments.sweep_variants([8], [0.5], include_simmim=True)
    assert with_reference[0].fields == {"method": "simmim", "weight_patch_size": None, "temperature": None}


# --- pretrain then evaluate, with a recording fit -----------------------------------------------------------------


class RecordingFit:
    """Stands in for kamim_lib.engine.fit: remembers the configs and returns summaries shaped like the engine's."""

    def __init__(self):
        self.configs = []

    def __call__(self, config):
        self.configs.append(config)
        summary = {"run_id": run_dir(config).name, "run_dir": str(run_dir(config)),
                   "checkpoint": str(run_dir(config) / "checkpoints" / "checkpoint-last.pt"),
                   "train_loss_first_epoch": 2.0, "train_loss_last_epoch": 1.0}
        if config.section != "pretrain":
            summary.update(val_top1=50.0 + len(self.configs), val_top5=90.0)
        if config.section == "linprobe":
            summary.update(knn_top1=40.0, knn_top5=80.0, knn_k=config.knn_k)
        return summary


def test_run_variants_pretrains_then_evaluates_that_run(train_yaml, tmp_path):
    setup = training_setup(str(train_yaml), [], tmp_path, "cpu")
    fit = RecordingFit()
    results = experiments.run_variants(setup, experiments.method_variants(["simmim", "kamim"]), "linprobe", fit=fit,
                                       log=None)
    assert [c.section for c in fit.configs] == ["pretrain", "linprobe", "pretrain", "linprobe"]
    assert fit.configs[1].pretrained == results[0]["pretrain"]["run_dir"] == str(run_dir(fit.configs[0]))
    assert results[1]["pretrain"]["method"] == "kamim" and results[1]["evaluation"]["top1"] == 54.0
    assert results[0]["evaluation"]["knn_top1"] == 40.0 and results[0]["evaluation"]["probe_layer"] == 4
    json.dumps(results)  # results go into summary.json as they are


def test_summary_is_stale_when_forced_or_when_the_configuration_names_other_runs(train_yaml, tmp_path):
    variants = experiments.method_variants(["simmim", "kamim"])
    setup = training_setup(str(train_yaml), [], tmp_path, "cpu")
    results = experiments.run_variants(setup, variants, "linprobe", fit=RecordingFit(), log=None)
    planned = experiments.planned_runs(setup, variants, "linprobe")
    assert planned == experiments.recorded_runs(results)
    summary = tmp_path / "summary.json"
    parameters = {"profile": "tiny", "methods": ["simmim", "kamim"]}
    assert experiments.summary_is_stale(summary, parameters, False, planned)  # no summary yet
    summary.write_text(json.dumps({"parameters": parameters, "results": results}))
    assert not experiments.summary_is_stale(summary, {**parameters, "profile": "other"}, False, planned)
    assert experiments.summary_is_stale(summary, parameters, True, planned)
    assert experiments.summary_is_stale(summary, {**parameters, "methods": ["kamim"]}, False, planned)
    # the same file path with edited content trains other runs: the summary no longer describes them
    train_yaml.write_text(yaml.safe_dump({**TINY_TRAIN, "seed": 1}))
    edited = experiments.planned_runs(training_setup(str(train_yaml), [], tmp_path, "cpu"), variants, "linprobe")
    assert experiments.summary_is_stale(summary, parameters, False, edited)


def test_run_variants_with_given_checkpoints_skips_their_pretraining(train_yaml, tmp_path):
    setup = training_setup(str(train_yaml), [], tmp_path, "cpu")
    fit = RecordingFit()
    checkpoint = tmp_path / "released.pth"
    results = experiments.run_variants(setup, experiments.method_variants(["simmim", "kamim"]), "finetune",
                                       pretrained={"kamim": str(checkpoint)}, fit=fit, log=None)
    assert [c.section for c in fit.configs] == ["pretrain", "finetune", "finetune"]
    assert fit.configs[2].pretrained == str(checkpoint) and results[1]["pretrain"] is None
    assert results[1]["evaluation"]["knn_top1"] is None
    with pytest.raises(ValueError, match="mae"):
        experiments.run_variants(setup, experiments.method_variants(["kamim"]), "linprobe",
                                 pretrained={"mae": "x"}, fit=fit, log=None)
    with pytest.raises(ValueError, match="only used with a protocol"):
        experiments.run_variant(setup, experiments.method_variants(["kamim"])[0], None, pretrained="x", fit=fit)


# --- rows, grids, curves -----------------------------------------------------------------------------------------


def _result(method, model="vit_b", dataset="imagenet", protocol="linprobe", top1=30.0, knn=None, **fields):
    return {"label": method, "fields": {"method": method, **fields}, "protocol": protocol,
            "pretrain": {"model": model, "dataset": dataset, "epochs": 3, "loss_normalize": "mask",
                         "train_loss_last_epoch": 0.5},
            "evaluation": {"model": model, "dataset": dataset, "top1": top1, "top5": 60.0, "knn_top1": knn,
                           "knn_top5": knn}}


def test_evaluation_rows_put_the_paper_beside_top1_only_where_it_is_known():
    rows = experiment_tables.evaluation_rows([_result("kamim", knn=20.0)], with_paper=True)
    by_metric = {row["metric"]: row for row in rows}
    assert by_metric["top-1 %"]["paper"] == 33.97 and by_metric["top-1 %"]["ours"] == 30.0
    assert by_metric["top-5 %"]["paper"] is None and by_metric["kNN top-1 %"]["ours"] == 20.0
    # no kNN (fine-tuning): those rows are left out; other data sets and ablations: no paper number
    assert [r["metric"] for r in experiment_tables.evaluation_rows([_result("simmim")], with_paper=True)] == [
        "top-1 %", "top-5 %"]
    assert experiment_tables.evaluation_rows([_result("simmim", dataset="digits")], with_paper=True)[0]["paper"] is None
    assert experiment_tables.evaluation_rows([_result("kamim")], with_paper=False)[0]["paper"] is None


def test_row_labels_are_text_and_missing_labels_read_na():
    rows = experiment_tables.evaluation_rows([_result("kamim", weight_patch_size=8, temperature=0.25),
                                        _result("simmim", weight_patch_size=None, temperature=None)])
    assert (rows[0]["weight_patch_size"], rows[0]["temperature"]) == ("8", "0.25")
    assert (rows[2]["weight_patch_size"], rows[2]["temperature"]) == ("n/a", "n/a")
    loss = experiment_tables.pretrain_rows([_result("kamim")])
    assert loss[0]["epochs"] == "3" and loss[0]["ours"] == 0.5 and loss[0]["paper"] is None


def test_grid_matrix_places_each_cell_and_leaves_missing_ones_empty():
    results = [_result("kamim", top1=float(10 * w + t), weight_patch_size=w, temperature=float(t))
               for w in (8, 16) for t in (1, 2, 3) if (w, t) != (16, 3)]
    matrix = experiment_tables.grid_matrix(results, row_key="weight_patch_size", row_values=[8, 16],
                                     column_key="temperature", column_values=[1.0, 2.0, 3.0], metric="top1")
    assert matrix == [[81.0, 82.0, 83.0], [161.0, 162.0, None]]
    losses = experiment_tables.grid_matrix(results, row_key="weight_patch_size", row_values=[8], column_key="temperature",
                                     column_values=[1.0], metric="final_loss")
    assert losses == [[0.5]]


def test_read_loss_curve_and_relative_curve(tmp_path):
    lines = [{"epoch": 1, "lr": 1e-3, "train_loss": 4.0}, {"epoch": 2, "lr": 5e-4, "train_loss": "nan"}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    curve = experiments.read_loss_curve(tmp_path)
    assert curve["epoch"] == [1, 2] and curve["train_loss"][0] == 4.0 and math.isnan(curve["train_loss"][1])
    assert experiments.relative_curve([4.0, 2.0, 1.0]) == [1.0, 0.5, 0.25]
    with pytest.raises(FileNotFoundError, match="metrics.jsonl"):
        experiments.read_loss_curve(tmp_path / "missing")


# --- plots -------------------------------------------------------------------------------------------------------


def test_plots_draw_every_series_and_write_na_for_missing_numbers():
    curves = {"simmim": {"epoch": [1, 2, 3], "train_loss": [1.0, 0.8, 0.6]},
              "kamim": {"epoch": [1, 2, 3], "train_loss": [4.0, 3.0, 2.0]}}
    figure = plot_loss_curves(curves, title="t")
    raw, relative = figure.axes
    assert len(raw.lines) == len(relative.lines) == 2
    assert [line.get_ydata()[0] for line in relative.lines] == [1.0, 1.0]
    assert list(relative.lines[1].get_ydata()) == [1.0, 0.75, 0.5]

    bars = plot_metric_bars({"simmim": {"top-1": 10.0, "kNN": None}, "kamim": {"top-1": 12.0, "kNN": 9.0}})
    texts = [text.get_text() for text in bars.axes[0].texts]
    assert "n/a" in texts and "12.0" in texts and len(bars.axes[0].patches) == 4

    heatmap = plot_heatmaps({"top-1": [[1.0, None], [3.0, 4.0]], "loss": [[0.1, 0.2], [0.3, 0.4]]},
                            row_labels=[8, 16], column_labels=[0.25, 1.0], row_name="w_ps", column_name="T")
    panels = [ax for ax in heatmap.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["top-1", "loss"]
    assert [t.get_text() for t in panels[0].texts] == ["1.00", "n/a", "3.00", "4.00"]
    with pytest.raises(ValueError, match="labels give 2 x 3"):
        plot_heatmaps({"x": [[1.0, 2.0], [3.0, 4.0]]}, row_labels=[1, 2], column_labels=[1, 2, 3], row_name="r",
                      column_name="c")


# --- notebook parameter schemas ------------------------------------------------------------------------------------


def _namespace(train_yaml, **extra):
    return {"profile": "tiny", "train_config": str(train_yaml), "train_overrides": ["epochs=1"], "data_root": None,
            "methods": ["simmim", "kamim"], "seeds": [0, 1], "device": "cpu", "output_dir": None, "force": False,
            **extra}


def test_schemas_accept_valid_parameters(train_yaml, tmp_path):
    assert notebook_parameters(_namespace(train_yaml, num_reconstruction_images=2, seed=0), PretrainParams).seed == 0
    checkpoint = tmp_path / "kamim.pth"
    checkpoint.write_bytes(b"")
    probe = notebook_parameters(_namespace(train_yaml, checkpoints={"kamim": str(checkpoint)}), LinearProbeParams)
    assert probe.stages == ("pretrain", "linprobe")
    notebook_parameters(_namespace(train_yaml, checkpoints={}), FinetuneParams)
    detectors = notebook_parameters(_namespace(train_yaml, detectors=["fast", "orb"], protocol="linprobe"),
                                    DetectorAblationParams)
    assert detectors.stages == ("pretrain", "linprobe") and detectors.engine_protocol == "linprobe"
    sweep = notebook_parameters(_namespace(train_yaml, weight_patch_sizes=[8, 16], temperatures=[0.25, 1], controls=True,
                                           protocol="finetune"), SweepParams)
    # the converged probe always needs the linear-probe configuration, the engine's protocol comes besides
    assert sweep.stages == ("pretrain", "linprobe", "finetune")
    pretrain_only = notebook_parameters(_namespace(train_yaml, detectors=["fast"], protocol="none"),
                                        DetectorAblationParams)
    assert pretrain_only.stages == ("pretrain", "linprobe") and pretrain_only.engine_protocol is None


def test_data_root_reaches_every_run_without_changing_run_ids(train_yaml, tmp_path):
    from kamim_lib.config import run_id
    from kamim_paper.experiments.training import training_setup

    plain = notebook_parameters(_namespace(train_yaml, num_reconstruction_images=2, seed=0), PretrainParams)
    rooted = notebook_parameters(_namespace(train_yaml, num_reconstruction_images=2, seed=0,
                                            data_root=str(tmp_path)), PretrainParams)
    assert rooted.overrides == ["epochs=1", f"data_root={tmp_path}"] and plain.overrides == ["epochs=1"]
    with_root = training_setup(rooted.train_config, rooted.overrides, tmp_path).pretrain_config(["method=kamim"])
    without = training_setup(plain.train_config, plain.overrides, tmp_path).pretrain_config(["method=kamim"])
    assert with_root.data_root == str(tmp_path) and run_id(with_root) == run_id(without)


PEERS = {"methods": ["simmim", "kamim"], "attmask_mode": "high", "protocols": ["linprobe"], "pss_sources": [],
         "pss_schedule": "cyclic", "pss_scorers": ["l1"], "sweep_drop_ratios": [0.0]}


@pytest.mark.parametrize("schema, extra, message", [
    (PretrainParams, {"num_reconstruction_images": 0, "seed": 0}, "num_reconstruction_images"),
    (PretrainParams, {"num_reconstruction_images": 2, "seed": 0, "methods": ["mae"]}, "methods"),
    (PretrainParams, {"num_reconstruction_images": 2, "seed": 0, "device": "tpu"}, "device"),
    (PretrainParams, {"num_reconstruction_images": 2, "seed": 0, "train_overrides": ["lr=fast"]}, "lr"),
    (PretrainParams, {"num_reconstruction_images": 2, "seed": 0, "train_config": "train/missing.yaml"},
     "train_config"),
    (LinearProbeParams, {"checkpoints": {"kamim": "/no/such/file.pth"}}, "absolute path of an existing"),
    (LinearProbeParams, {"checkpoints": {"kamim": "tiny_train.yaml"}}, "absolute path of an existing"),
    (LinearProbeParams, {"checkpoints": {"kamim": "x"}, "methods": ["simmim"]}, "not in methods"),
    (LinearProbeParams, {"checkpoints": {}, "train_overrides": ["probe_layer=0"]}, "probe_layer"),
    (DetectorAblationParams, {"detectors": ["surf"], "protocol": "linprobe"}, "detectors"),
    (DetectorAblationParams, {"detectors": ["fast"], "protocol": "knn"}, "protocol"),
    (DetectorAblationParams, {"detectors": ["fast"], "protocol": "linprobe", "methods": ["simmim"]}, "kamim"),
    (SweepParams, {"weight_patch_sizes": [8, 12], "temperatures": [1.0], "protocol": "linprobe", "controls": False},
     "weight_patch_size=12 must divide img_size=32"),
    (SweepParams, {"weight_patch_sizes": [8], "temperatures": [-1.0], "protocol": "linprobe", "controls": False},
     "temperatures"),
    (PretrainParams, {"num_reconstruction_images": 2, "seed": 0, "seeds": [0, 0]}, "more than once"),
    (PretrainParams, {"num_reconstruction_images": 2, "seed": 0, "seeds": [-1]}, "seeds"),
    # The peers' parameters check their lists with the same functions as every other notebook's.
    (PeersParams, {**PEERS, "seeds": [0, -1]}, "seeds: item=-1 must be >= 0"),
    (PeersParams, {**PEERS, "protocols": ["linprobe", "linprobe"]},
     re.escape("protocols=['linprobe', 'linprobe'] lists linprobe more than once")),
    (PeersParams, {**PEERS, "pss_scorers": ["l3"]}, "pss_scorers: item='l3' is not allowed; choose one of"),
])
def test_schemas_reject_bad_parameters_naming_them(train_yaml, schema, extra, message):
    with pytest.raises(ValueError, match=message):
        notebook_parameters(_namespace(train_yaml, **extra), schema)


# --- end to end with the real engine ----------------------------------------------------------------------------


def test_pretrain_probe_reuse_and_reconstruct_with_the_engine(train_yaml, tmp_path):
    from kamim_paper.sections.pretrain import reconstruction_arrays

    setup = training_setup(str(train_yaml), [], tmp_path, "cpu")
    variants = experiments.method_variants(["simmim", "kamim"])
    results = experiments.run_variants(setup, variants, "linprobe", log=None)
    for result in results:
        evaluation = result["evaluation"]
        assert 0 <= evaluation["top1"] <= evaluation["top5"] <= 100 and 0 <= evaluation["knn_top1"] <= 100
        curve = experiments.read_loss_curve(result["pretrain"]["run_dir"])
        assert curve["epoch"] == [1] and curve["train_loss"] == [result["pretrain"]["train_loss_last_epoch"]]
    assert results[1]["pretrain"]["train_loss_last_epoch"] > results[0]["pretrain"]["train_loss_last_epoch"]
    runs = sorted(path.name for path in (tmp_path / "runs").glob("*/*"))
    assert len(runs) == 4

    # a second pass (another notebook with the same configuration) reuses every finished run
    metrics = {path: path.read_text() for path in (tmp_path / "runs").glob("*/*/metrics.jsonl")}
    again = experiments.run_variants(setup, variants, "linprobe", log=None)
    assert [r["evaluation"]["run_id"] for r in again] == [r["evaluation"]["run_id"] for r in results]
    assert [r["evaluation"]["top1"] for r in again] == [r["evaluation"]["top1"] for r in results]
    assert {path: path.read_text() for path in (tmp_path / "runs").glob("*/*/metrics.jsonl")} == metrics
    assert sorted(path.name for path in (tmp_path / "runs").glob("*/*")) == runs

    config = setup.pretrain_config(variants[0].overrides)
    checkpoints = {r["label"]: r["pretrain"]["checkpoint"] for r in results}
    arrays, scores = reconstruction_arrays(checkpoints, config, num_images=3, seed=1, device="cpu")
    assert set(arrays) == {"reference", "masked", "prediction/simmim", "prediction/kamim"}
    assert all(a.dtype == torch.uint8 and tuple(a.shape) == (3, 3, 32, 32) for a in arrays.values())
    assert not torch.equal(arrays["prediction/simmim"], arrays["prediction/kamim"])
    assert set(scores["kamim"]) == {"psnr_masked", "psnr_full", "ssim_masked", "ssim_full"}
    assert all(value is not None and math.isfinite(value) for value in scores["simmim"].values())

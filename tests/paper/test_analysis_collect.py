"""Collecting the SPEC §3 statistics from real (tiny) models: agreement with the per-tensor functions applied by
hand, independence from batch size, hooks that leave no trace, strict checkpoint loading with a random-init
baseline, and the notebooks' summary/table helpers."""
import itertools
import json
import math
import warnings

import numpy as np
import pytest
import torch

from kamim_lib.analysis import (attention_map, fourier_relative_log_amplitude, mean_attention_distance_per_layer,
                                attention_nmi_per_layer, reconstruction_metrics, unnormalize)
from kamim_lib.analysis import collect
from kamim_paper.results import summaries
from kamim_paper.results.tables import analysis as tables
from kamim_lib.analysis.hooks import record_outputs
from kamim_paper.experiments.analysis_inputs import analysis_masks, load_analysis_images
from kamim_lib.analysis.model_layout import block_token_sizes, check_block, check_hidden_layer, encoder_blocks
from kamim_paper.experiments.analysis_models import (RANDOM_INIT, analysis_models, random_init_model,
                                                     resolve_analysis_device, resolve_checkpoints)
from kamim_lib.analysis.token_similarity import mean_token_cosine_similarity
from kamim_lib.models import StateDictMismatchError, create_model
from kamim_paper.results.artifacts import record_pretrained_checkpoints

IMG = 64  # vit_nano: 64 px, 16-px patches -> a 4 x 4 grid, 8 blocks, 2 heads


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(1)
    model = create_model("vit_nano")
    # Sharpen attention so that the statistics differ from the near-uniform values of an untrained model.
    with torch.no_grad():
        for block in model.encoder.blocks:
            block.attn.qkv.weight.mul_(20)
    return model.eval()


@pytest.fixture(scope="module")
def images():
    return torch.randn(5, 3, IMG, IMG, generator=torch.Generator().manual_seed(0))


def reference_intermediates(model, images):
    with torch.no_grad():
        return model.encoder.forward_intermediates(images, return_attention=True)


# --- hooks and layout ---------------------------------------------------------------------------------------

def test_record_outputs_captures_and_always_removes_its_hooks(vit, images):
    block = vit.encoder.blocks[2]
    with record_outputs({"pre": block.norm1, "post": block.attn}) as outputs:
        with torch.no_grad():
            vit.encoder.forward_features(images)
    hidden = reference_intermediates(vit, images).hidden_states[2]
    with torch.no_grad():
        expected_pre = block.norm1(hidden)
        assert torch.allclose(outputs["pre"], expected_pre, atol=1e-6)
        assert torch.allclose(outputs["post"], block.attn(expected_pre), atol=1e-5)
    assert not block.norm1._forward_hooks and not block.attn._forward_hooks
    with pytest.raises(RuntimeError, match="boom"):
        with record_outputs({"pre": block.norm1}):
            raise RuntimeError("boom")
    assert not block.norm1._forward_hooks
    with pytest.raises(ValueError, match="nn.Module"):
        with record_outputs({"pre": "norm1"}):
            pass


def test_layout_numbers_blocks_from_one_and_knows_swin_token_sizes(vit):
    assert len(encoder_blocks(vit)) == 8 and block_token_sizes(vit) == [16] * 8
    assert check_block(vit, -1) == 8 and check_block(vit, 1) == 1
    assert check_hidden_layer(vit, 0) == 0 and check_hidden_layer(vit, -1) == 8
    for bad in (0, 9, 2.0):
        with pytest.raises(ValueError, match="block"):
            check_block(vit, bad)
    with pytest.raises(ValueError, match="layer"):
        check_hidden_layer(vit, 9)
    swin = create_model("swin_nano")
    assert block_token_sizes(swin) == [4, 4, 8, 8, 16, 16, 32, 32]
    assert len(encoder_blocks(swin)) == 8


# --- attention ----------------------------------------------------------------------------------------------

def test_attention_statistics_match_the_per_layer_functions_at_any_batch_size(vit, images):
    attentions = reference_intermediates(vit, images).attentions
    expected_distance = mean_attention_distance_per_layer(attentions, 16, has_cls=1, per_head=True)
    expected_nmi = attention_nmi_per_layer(attentions, has_cls=1)
    for batch_size in (2, 5):
        stats = collect.attention_statistics(vit, images, batch_size=batch_size)
        assert stats.layers == list(range(1, 9)) and stats.num_images == 5
        assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(stats.distance_px_per_head, expected_distance))
        assert torch.allclose(stats.distance_px, torch.stack([d.mean() for d in expected_distance]), atol=1e-4)
        assert torch.allclose(stats.nmi, expected_nmi, atol=1e-5)
        assert [h.shape for h in stats.nmi_per_head] == [torch.Size([2])] * 8
    # Uniform attention on a 4 x 4 grid of 16-px tokens: 16 x the mean distance between all pairs of cells.
    cells = list(itertools.product(range(4), range(4)))
    uniform = 16 * np.mean([math.dist(p, q) for p in cells for q in cells])
    assert torch.allclose(stats.uniform_distance_px, torch.full((8,), uniform), atol=1e-4)
    assert (stats.nmi > 0.5).all()  # the sharpened model's queries each attend their own few keys


def test_random_init_vit_attends_almost_uniformly(images):
    """The fact behind SPEC §3's warning: an untrained ViT gives the uniform-attention distance and NMI ≈ 0."""
    stats = collect.attention_statistics(random_init_model("vit_nano", 0), images)
    assert torch.allclose(stats.distance_px, stats.uniform_distance_px, atol=0.2)
    assert (stats.nmi < 0.01).all()


def test_attention_maps_are_the_last_blocks_query_rows(vit, images):
    result = collect.attention_maps(vit, images, head=1, query=(2, 1), batch_size=2)
    expected = attention_map(reference_intermediates(vit, images).attentions[-1], (2, 1), 1)
    assert result.maps.shape == (5, 4, 4) and (result.query, result.block, result.head) == ((2, 1), 8, 1)
    assert torch.allclose(result.maps, expected, atol=1e-6)
    assert torch.allclose(result.maps.sum(dim=(1, 2)), torch.ones(5), atol=1e-5)
    assert collect.attention_maps(vit, images, query=6).query == (1, 2)          # raster index 6 on a 4 x 4 grid
    centre = collect.attention_maps(vit, images, block=3)
    assert centre.query == (2, 2) and torch.allclose(
        centre.maps, attention_map(reference_intermediates(vit, images).attentions[2], (2, 2), 0), atol=1e-6)
    with pytest.raises(ValueError, match="head"):
        collect.attention_maps(vit, images, head=2, query=0)


def test_swin_attention_maps_need_one_window_per_image(images):
    swin = create_model("swin_nano").eval()
    last = collect.attention_maps(swin, images[:2])        # last stage: a 2 x 2 grid inside one window
    assert last.maps.shape == (2, 2, 2) and last.query == (1, 1) and last.block == 8
    with pytest.raises(ValueError, match="windows per image"):
        collect.attention_maps(swin, images[:2], block=1)


def test_statistics_run_in_eval_mode_and_restore_the_mode(vit, images):
    seen = []
    handle = vit.encoder.blocks[0].register_forward_hook(lambda module, *_: seen.append(module.training))
    try:
        vit.train()
        collect.attention_statistics(vit, images[:2])
        assert seen and not any(seen) and vit.training
    finally:
        handle.remove()
        vit.eval()


def test_inputs_are_checked(vit, images):
    with pytest.raises(ValueError, match="64, 64"):
        collect.attention_statistics(vit, torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="batch_size"):
        collect.fourier_statistics(vit, images, batch_size=0)
    with pytest.raises(ValueError, match="mask"):
        collect.fourier_statistics(vit, images, torch.zeros(2, 4, 4))


def test_swin_attention_statistics_use_each_stages_token_size(images):
    swin = create_model("swin_nano").eval()
    stats = collect.attention_statistics(swin, images[:2])
    assert stats.distance_px.shape == (8,) and [len(h) for h in stats.nmi_per_head] == [1, 1, 2, 2, 4, 4, 8, 8]
    # An untrained Swin attends uniformly within its 4 x 4 windows; the shifted-window blocks (2nd of each stage)
    # mask keys across regions, so only the unshifted ones reach the whole-window value.
    assert torch.allclose(stats.distance_px[[0, 2]], stats.uniform_distance_px[[0, 2]], rtol=0.01)
    assert torch.allclose(stats.uniform_distance_px[[0, 2]], torch.tensor([8.0321, 16.0641]), atol=1e-3)


# --- Fourier, tokens ----------------------------------------------------------------------------------------

def test_fourier_statistics_match_the_whole_batch_analysis(vit, images):
    expected = fourier_relative_log_amplitude(reference_intermediates(vit, images).hidden_states, has_cls=1)
    stats = collect.fourier_statistics(vit, images, batch_size=2)
    assert stats.layers == ["x", 1, 2, 3, 4, 5, 6, 7, 8] and stats.num_images == 5
    assert torch.allclose(stats.analysis.delta_log_amplitude, expected.delta_log_amplitude, atol=1e-4)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(stats.analysis.profiles, expected.profiles))


def test_layer_tokens_and_pre_post_attention(vit, images):
    hidden = reference_intermediates(vit, images).hidden_states
    assert torch.allclose(collect.layer_tokens(vit, images, 3, batch_size=2), hidden[3], atol=1e-6)
    assert torch.allclose(collect.layer_tokens(vit, images), hidden[8], atol=1e-6)
    pair = collect.pre_post_attention(vit, images, 4, batch_size=3)
    block = vit.encoder.blocks[3]
    with torch.no_grad():
        pre = block.norm1(hidden[3])
        post = block.attn(pre)
    assert pair.block == 4 and pair.pre.shape == pair.post.shape == (5 * 16, 64)
    assert torch.allclose(pair.pre, pre[:, 1:].reshape(-1, 64), atol=1e-5)
    assert torch.allclose(pair.post, post[:, 1:].reshape(-1, 64), atol=1e-5)
    assert not block.norm1._forward_hooks and not block.attn._forward_hooks


def test_mean_token_cosine_similarity_known_answers():
    same = torch.randn(1, 1, 8).expand(3, 6, 8)
    assert mean_token_cosine_similarity(same, has_cls=False) == pytest.approx(1.0, abs=1e-6)
    orthogonal = torch.cat((torch.zeros(2, 1, 5), torch.eye(5).expand(2, 5, 5)), dim=1)  # CLS first
    assert mean_token_cosine_similarity(orthogonal) == pytest.approx(0.0, abs=1e-7)
    tokens = torch.randn(2, 7, 4, generator=torch.Generator().manual_seed(3))
    unit = torch.nn.functional.normalize(tokens, dim=-1)
    brute = np.mean([[float(unit[b, i] @ unit[b, j]) for i in range(7) for j in range(7) if i != j]
                     for b in range(2)])
    assert mean_token_cosine_similarity(tokens, has_cls=0).item() == pytest.approx(brute, abs=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        mean_token_cosine_similarity(torch.randn(2, 2, 4))


def test_token_similarity_per_block_and_the_random_init_collapse(vit, images):
    hidden = reference_intermediates(vit, images).hidden_states
    result = collect.token_similarity_per_block(vit, images, batch_size=2)
    block = vit.encoder.blocks[5]
    with torch.no_grad():
        pre = block.norm1(hidden[5])
        expected_post = mean_token_cosine_similarity(block.attn(pre))
    assert result.layers == list(range(1, 9))
    assert result.pre_attention[5].item() == pytest.approx(mean_token_cosine_similarity(pre).item(), abs=1e-5)
    assert result.post_attention[5].item() == pytest.approx(expected_post.item(), abs=1e-5)
    # Near-uniform attention sends (almost) the same vector to every token.
    untrained = collect.token_similarity_per_block(random_init_model("vit_nano", 0), images)
    assert (untrained.post_attention > 0.95).all() and (untrained.pre_attention < 0.5).all()
    with pytest.raises(ValueError, match="ViT"):
        collect.token_similarity_per_block(create_model("swin_nano"), images)


# --- reconstructions ----------------------------------------------------------------------------------------

def test_reconstruct_scores_the_models_output(vit, images):
    masks = analysis_masks(5, img_size=IMG, model_patch_size=16, mask_patch_size=32, mask_ratio=0.4, seed=2)
    result = collect.reconstruct(vit, images, masks, batch_size=2)
    with torch.no_grad():
        prediction = vit(images, masks)
    expected = reconstruction_metrics(prediction, images, masks, max_psnr_db=100.0)
    assert result.prediction.shape == (5, 3, IMG, IMG)
    assert torch.allclose(result.prediction, unnormalize(prediction), atol=1e-6)
    assert set(result.metrics) == {"psnr_masked", "psnr_full", "ssim_masked", "ssim_full"}
    for name, values in expected.items():
        assert torch.allclose(result.metrics[name], values, atol=1e-4)
    with pytest.raises(ValueError, match="mask"):
        collect.reconstruct(vit, images, None)


def test_analysis_masks_are_seeded_simmim_masks():
    first = analysis_masks(4, img_size=64, model_patch_size=16, mask_patch_size=32, mask_ratio=0.4, seed=5)
    assert first.shape == (4, 4, 4) and torch.equal(first, analysis_masks(4, img_size=64, model_patch_size=16,
                                                                          mask_patch_size=32, mask_ratio=0.4, seed=5))
    assert (first.sum(dim=(1, 2)) == 2 * 4).all()  # ceil(4 cells x 0.4) = 2 cells of 2 x 2 tokens


# --- models and checkpoints ---------------------------------------------------------------------------------

@pytest.fixture
def checkpoint_files(tmp_path):
    paths = {}
    for index, method in enumerate(("simmim", "kamim")):
        torch.manual_seed(10 + index)
        model = create_model("vit_nano")
        paths[method] = tmp_path / f"{method}.pth"
        torch.save(model.state_dict(), paths[method])
    return paths


def test_analysis_models_load_strictly_and_add_a_seeded_random_init(checkpoint_files):
    models = analysis_models("vit_nano", checkpoint_files, seed=3)
    assert list(models) == ["simmim", "kamim", RANDOM_INIT]
    saved = torch.load(checkpoint_files["kamim"], weights_only=True)
    assert all(torch.equal(models["kamim"].state_dict()[key], value) for key, value in saved.items())
    assert not any(m.training for m in models.values())
    state = torch.random.get_rng_state()
    again = analysis_models("vit_nano", {}, seed=3)[RANDOM_INIT]
    assert torch.equal(torch.random.get_rng_state(), state)  # the baseline does not consume the global RNG
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(),
                                                 models[RANDOM_INIT].state_dict().values()))
    other = random_init_model("vit_nano", 4).state_dict()["encoder.pos_embed"]
    assert not torch.equal(other, models[RANDOM_INIT].state_dict()["encoder.pos_embed"])


def test_analysis_models_refuse_partial_checkpoints_and_the_reserved_label(checkpoint_files, tmp_path):
    state = torch.load(checkpoint_files["simmim"], weights_only=True)
    del state["encoder.blocks.3.attn.qkv.weight"]
    broken = tmp_path / "broken.pth"
    torch.save(state, broken)
    with pytest.raises(StateDictMismatchError, match=r"encoder\.blocks\.3\.attn\.qkv\.weight"):
        analysis_models("vit_nano", {"simmim": broken})
    with pytest.raises(ValueError, match="reserved|random init"):
        analysis_models("vit_nano", {RANDOM_INIT: checkpoint_files["simmim"]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models = analysis_models("vit_nano", {"simmim": None, "kamim": checkpoint_files["kamim"]})
    assert list(models) == ["kamim", RANDOM_INIT] and "simmim" in str(caught[0].message)
    with pytest.raises(ValueError, match="device"):
        resolve_analysis_device("tpu")


def test_resolve_checkpoints_from_the_record_or_the_parameters(checkpoint_files, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(FileNotFoundError, match="pretrain"):
        resolve_checkpoints(out, None, None)
    record_pretrained_checkpoints(out, checkpoint_files, model="vit_nano")
    model, paths, sources = resolve_checkpoints(out, None, None)
    assert model == "vit_nano" and paths == {k: str(v) for k, v in checkpoint_files.items()}
    assert sources == {"simmim": "pretraining record", "kamim": "pretraining record"}
    other = tmp_path / "other.pth"
    other.write_bytes(b"")
    model, paths, sources = resolve_checkpoints(out, None, {"simmim": None, "kamim": str(other)})
    assert paths["kamim"] == str(other) and sources == {"simmim": "pretraining record", "kamim": "parameter"}
    with pytest.raises(ValueError, match="vit_nano"):
        resolve_checkpoints(out, "vit_b", {"kamim": None})            # record is for another model
    assert resolve_checkpoints(out, "vit_b", {"a": str(other), "b": str(other)})[0] == "vit_b"
    with pytest.raises(ValueError, match="model"):
        resolve_checkpoints(tmp_path / "empty", None, {"a": str(other)})
    with pytest.raises(ValueError, match="does not exist"):
        resolve_checkpoints(out, "vit_nano", {"simmim": str(tmp_path / "missing.pth")})
    with pytest.raises(ValueError, match="no 'moco' run"):
        resolve_checkpoints(out, None, {"moco": None})
    with pytest.raises(ValueError, match="random init"):
        resolve_checkpoints(out, None, {RANDOM_INIT: str(other)})
    with pytest.raises(ValueError, match="mapping label -> path"):
        resolve_checkpoints(out, None, [str(other)])


def test_load_analysis_images_is_a_seeded_subset():
    first = load_analysis_images("digits", num_images=6, img_size=32, seed=1)
    assert first.images.shape == (6, 3, 32, 32) and first.images.dtype == torch.float32
    assert first.labels.shape == (6,) and len(set(first.indices.tolist())) == 6
    again = load_analysis_images("digits", num_images=6, img_size=32, seed=1)
    assert torch.equal(first.images, again.images) and torch.equal(first.indices, again.indices)
    assert not torch.equal(first.indices, load_analysis_images("digits", num_images=6, img_size=32, seed=2).indices)
    with pytest.raises(ValueError, match="num_images"):
        load_analysis_images("digits", num_images=10_000, img_size=32)


# --- summaries and tables -----------------------------------------------------------------------------------

def attention_summary(vit, images, model="vit_nano"):
    stats = {"simmim": collect.attention_statistics(vit, images), RANDOM_INIT: collect.attention_statistics(
        random_init_model("vit_nano", 0), images)}
    return {"model": model, "provenance": {"profile": "test"}, **summaries.attention_entries(stats)}


def test_attention_summary_rows_and_per_layer_table(vit, images, tmp_path):
    summary = attention_summary(vit, images)
    rows = summary["models"]["simmim"]["attention_distance_px"]
    assert rows["layer"] == list(range(1, 9)) and all(math.isfinite(v) for v in rows["value"])
    assert len(summary["models"]["simmim"]["nmi_per_head"]["value"][0]) == 2
    assert summary["paper"]["nmi"]["kamim"]["value"][0] == 0.007
    path = summaries.write_summary(tmp_path / "s.json", {**summary, "bad": float("nan")})
    loaded = json.loads(path.read_text())
    assert loaded["bad"] is None and loaded["models"] == json.loads(json.dumps(summary["models"]))
    text = tables.per_layer_table(loaded, "attention_distance_px", title="distance", digits=1)
    lines = text.splitlines()
    assert "| layer | SimMIM | random init | paper SimMIM (vit_b) | paper KAMIM (vit_b) |" in lines
    assert any(line.startswith("| 12 | n/a | n/a | 68.0 | 99.8 |") for line in lines)  # paper has 12 blocks
    assert "profile: test" in text
    with pytest.raises(ValueError, match="metric"):
        tables.per_layer_table(loaded, "nope", title="x")


def test_should_compute_tracks_result_parameters(tmp_path):
    path = tmp_path / "summary.json"
    params = {"profile": "a", "num_images": 4, "force": False, "device": "cpu", "output_dir": None, "query": [1, 2]}
    assert summaries.should_compute(path, params, force=False)
    summaries.write_summary(path, {"parameters": params})
    assert not summaries.should_compute(path, params, force=False)
    assert summaries.should_compute(path, params, force=True)
    assert not summaries.should_compute(path, {**params, "profile": "b", "device": "cuda"}, force=False)
    assert summaries.should_compute(path, {**params, "num_images": 8}, force=False)


def test_reconstruction_table_shows_the_paper_only_in_its_setting(vit, images):
    masks = analysis_masks(5, img_size=IMG, model_patch_size=16, mask_ratio=0.4)
    entries = summaries.reconstruction_entries({"simmim": collect.reconstruct(vit, images, masks)})
    summary = {"model": "vit_b", "parameters": {"mask_ratio": 0.4}, "images": {"num_images": 5},
               "provenance": {"profile": "t"}, **entries}
    assert len(summary["models"]["simmim"]["per_image"]["psnr_full"]) == 5
    text = tables.reconstruction_table(summary)
    assert "| SimMIM | psnr_full |" in text and "12.06–12.09" in text and "0.108–0.115" in text
    assert "12.06" not in tables.reconstruction_table({**summary, "model": "vit_nano"})
    assert "12.06" not in tables.reconstruction_table({**summary, "parameters": {"mask_ratio": 0.6}})


def test_three_checkpoints_of_three_formats_side_by_side(checkpoint_files, tmp_path):
    """kamim's own format, the original's periodic HF dict and a MoCo v3 checkpoint, with the random init."""
    from kamim_paper.experiments.analysis_inputs import images_for_models, load_analysis_images
    from kamim_paper.original.moco_v3 import is_moco_v3_model, moco_v3_model
    from kamim_paper.original.loader_report import hf438_vit_mim

    torch.manual_seed(21)
    original = tmp_path / "checkpoint_99.pth"
    torch.save({"epoch": 99, "model_state_dict": hf438_vit_mim("vit_nano").state_dict()}, original)
    moco = moco_v3_model("vit_nano", img_size=96)
    moco_path = tmp_path / "moco.pth.tar"
    torch.save({"epoch": 1, "state_dict": {f"module.base_encoder.{key[len('encoder.'):]}": value
                                           for key, value in moco.state_dict().items()
                                           if key.startswith("encoder.") and key != "encoder.mask_token"}}, moco_path)
    checkpoints = {"simmim": checkpoint_files["simmim"], "original": original, "moco": moco_path}
    models = analysis_models("vit_nano", checkpoints, seed=0)
    assert list(models) == ["simmim", "original", "moco", RANDOM_INIT]
    assert is_moco_v3_model(models["moco"]) and models["moco"].token_grid == 6
    inputs = images_for_models(models, lambda size: load_analysis_images("digits", num_images=3, img_size=size))
    assert inputs["simmim"] is inputs["original"] and inputs["moco"].images.shape[-1] == 96
    assert torch.equal(inputs["moco"].indices, inputs["simmim"].indices)
    for label, model in models.items():
        stats = collect.attention_statistics(model, inputs[label].images, batch_size=3)
        assert len(stats.distance_px) == 8
    # The uniform-attention distance is that of each model's own grid.
    assert stats.uniform_distance_px[0] != collect.attention_statistics(
        models["moco"], inputs["moco"].images).uniform_distance_px[0]

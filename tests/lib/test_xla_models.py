"""Models, keypoint maps and masks on an XLA device give the CPU's answers, with static graphs.

Run by `python3 tasks.py test-xla` (torch_xla on PJRT_DEVICE=CPU, CPU_NUM_DEVICES=4). The SPMD check runs
`xla_spmd_worker.py` in the session's shared SPMD worker process (`xla_spmd_fits.py`), because ``use_spmd()`` must
precede every XLA tensor of a process.
Every comparison syncs the lazy graph once before reading anything back: reading one tensor of a pending graph
compiles a graph of its own.
"""
import copy

import pytest
import torch

torch_xla = pytest.importorskip("torch_xla")
metrics = pytest.importorskip("torch_xla.debug.metrics")
pytestmark = pytest.mark.xla

from kamim_lib.data.normalization import normalize_on_device  # noqa: E402
from kamim_lib.keypoints import keypoint_map  # noqa: E402
from kamim_lib.losses import masked_l1  # noqa: E402
from kamim_lib.masking import num_masked_cells, random_cell_masks  # noqa: E402
from kamim_lib.models import create_model  # noqa: E402
from kamim_lib.sample_photos import PHOTO_NAMES, sample_photo_batch  # noqa: E402
from kamim_lib.weighting import keypoint_weights  # noqa: E402

import xla_spmd_worker  # noqa: E402
from xla_spmd_fits import ADAMW_STEPS  # noqa: E402

MODEL_NAMES = ["vit_nano", "swin_nano"]
SPMD_DEVICES = 4


@pytest.fixture(scope="module")
def xla():
    return torch_xla.device()


def _compile_count() -> int:
    """Graphs compiled so far by this process (torch_xla's CompileTime metric)."""
    data = metrics.metric_data("CompileTime")
    return 0 if data is None else int(data[0])


def _flush() -> None:
    """Execute whatever an earlier test left pending, so the counts that follow belong to this test."""
    torch_xla.sync()


def _assert_close_by_norm(actual: torch.Tensor, expected: torch.Tensor, what: str, rtol: float = 1e-4) -> None:
    """‖actual − expected‖ ≤ rtol·‖expected‖ (+1e-8): a per-tensor tolerance independent of the tensor's scale."""
    error, scale = (actual - expected).norm().item(), expected.norm().item()
    assert error <= rtol * scale + 1e-8, f"{what}: |difference| {error:.3g} vs |expected| {scale:.3g}"


def _no_fallbacks_or_transfers() -> bool:
    """Since the last ``metrics.clear_all()``: no op fell back to the CPU and nothing was read back to the host."""
    fallbacks = [name for name in metrics.counter_names() if name.startswith("aten::")]
    return not fallbacks and metrics.metric_data("TransferFromDeviceTime") is None


def _kamim_loss_and_grads(model, photos, mask):
    """The KAMIM objective from uint8 photos on their device: FAST weights (torch backend), weighted masked L1."""
    model.zero_grad(set_to_none=True)
    images = normalize_on_device(photos)
    weight = keypoint_weights(photos, detector="fast", patch_size=8, temperature=0.25, backend="torch")
    loss = masked_l1(model(images, mask), images, mask, model.patch_size, weight=weight)
    loss.backward()
    return loss.detach(), {name: parameter.grad for name, parameter in model.named_parameters()}


@pytest.fixture(scope="module")
def small_photos():
    """Two batches of two real photos: uint8 (2, 3, 64, 64) RGB each, same shapes, different pixels."""
    return sample_photo_batch(PHOTO_NAMES[:4], size=64).split(2)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_kamim_step_matches_cpu_and_reuses_its_graph(name, small_photos, xla):
    _flush()
    cpu_model = create_model(name)
    xla_model = copy.deepcopy(cpu_model).to(xla)
    generator = torch.Generator().manual_seed(1)
    for step, photos in enumerate(small_photos):
        mask = random_cell_masks(2, input_size=64, mask_patch_size=32, model_patch_size=cpu_model.patch_size,
                                 mask_ratio=0.6, generator=generator)
        cpu_loss, cpu_grads = _kamim_loss_and_grads(cpu_model, photos, mask)
        metrics.clear_all()
        xla_loss, xla_grads = _kamim_loss_and_grads(xla_model, photos.to(xla), mask.to(xla))
        torch_xla.sync()
        # Keypoints, weights, forward and backward all ran on the device without a host round trip...
        assert _no_fallbacks_or_transfers()
        if step == 1:  # ...and new photos of the same shape reused the graph that step 0 compiled.
            assert _compile_count() == 0
        assert xla_loss.device.type == "xla"
        assert xla_loss.cpu().item() == pytest.approx(cpu_loss.item(), rel=1e-5)
        assert cpu_grads.keys() == xla_grads.keys()
        for param_name, cpu_grad in cpu_grads.items():
            assert cpu_grad is not None and xla_grads[param_name] is not None, param_name
            _assert_close_by_norm(xla_grads[param_name].cpu(), cpu_grad, f"{name} grad {param_name}")
        # The mask token only gets a gradient through masked positions: the mask reached the encoder.
        assert cpu_grads["encoder.mask_token"].abs().sum() > 0


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_intermediates_with_attention_match_cpu(name, small_photos, xla):
    _flush()
    cpu_model = create_model(name).eval()
    xla_model = copy.deepcopy(cpu_model).to(xla)
    images = normalize_on_device(small_photos[0])
    mask = random_cell_masks(2, input_size=64, mask_patch_size=32, model_patch_size=cpu_model.patch_size,
                             mask_ratio=0.6, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = cpu_model.encoder.forward_intermediates(images, mask=mask, return_attention=True)
        metrics.clear_all()
        actual = xla_model.encoder.forward_intermediates(images.to(xla), mask=mask.to(xla), return_attention=True)
    torch_xla.sync()
    assert _no_fallbacks_or_transfers()
    depth = sum(cpu_model.arch.depths) if cpu_model.family == "swin" else cpu_model.arch.depth
    assert len(actual.attentions) == len(expected.attentions) == depth
    assert len(actual.hidden_states) == len(expected.hidden_states) == depth + 1
    for index, (got, want) in enumerate(zip(actual.attentions, expected.attentions)):
        assert got.shape == want.shape
        assert torch.allclose(got.cpu(), want, rtol=1e-4, atol=1e-5), f"{name} attention {index}"
    for index, (got, want) in enumerate(zip(actual.hidden_states, expected.hidden_states)):
        assert torch.allclose(got.cpu(), want, rtol=1e-4, atol=1e-4), f"{name} hidden state {index}"
    assert torch.allclose(actual.last_hidden_state.cpu(), expected.last_hidden_state, rtol=1e-4, atol=1e-4)


@pytest.mark.spmd_scenario(ADAMW_STEPS)
def test_spmd_adamw_steps_on_four_devices_match_the_cpu_on_the_whole_batch(spmd_fits):
    outcome = spmd_fits.result(ADAMW_STEPS)  # xla_spmd_worker.main, run first in the shared SPMD worker
    assert outcome["ok"], outcome["error"][-4000:]
    result = torch.load(outcome["output"])
    assert result["num_devices"] == SPMD_DEVICES
    # The batch was split along dim 0 over the 4 devices: 2 of the 8 images on each.
    assert result["input_sharding"] == "{devices=[4,1,1,1]0,1,2,3}"

    model, batches = xla_spmd_worker.spmd_problem()
    learning_rate = xla_spmd_worker.ADAMW["lr"]
    optimizer = torch.optim.AdamW(model.parameters(), **xla_spmd_worker.ADAMW)
    initial = {key: value.clone() for key, value in model.state_dict().items()}
    for step, batch in enumerate(batches):
        loss = xla_spmd_worker.train_step(model, optimizer, batch)
        assert result["losses"][step] == pytest.approx(loss.item(), rel=1e-5)
        if step == 0:  # the gradient of the whole batch, not of one device's quarter, and at the right scale
            for name, parameter in model.named_parameters():
                _assert_close_by_norm(result["first_step_grads"][name], parameter.grad, f"SPMD grad {name}")
        weights = result["weights_after_step"][step]
        assert weights.keys() == model.state_dict().keys()
        differences = torch.cat([(weights[key] - value).abs().flatten() for key, value in model.state_dict().items()])
        # Adam's first steps move a weight by about lr·g/(|g| + eps): for the few gradients near 0 the
        # summation-order noise of the sharded reduction is amplified (measured: 43 to 53 of the 500k weights
        # off by more than 1e-6, the largest by 2.4e-5 = 0.024 lr). Bound all by 0.05 lr, all but 0.1 % by 1e-6.
        assert differences.max() <= 0.05 * learning_rate, f"step {step + 1}"
        assert (differences > 1e-6).float().mean() <= 1e-3, f"step {step + 1}"
    # The steps moved the weights by far more than the tolerance, so the comparison had something to compare.
    moved = max((model.state_dict()[key] - value).abs().max().item() for key, value in initial.items())
    assert moved > 1e-3
    # Step 1 compiles, step 2 once more (AdamW's state is created lazily by step 1), step 3 reuses step 2's graph.
    first, second, third = result["compile_counts"]
    assert first >= 1 and third == second


@pytest.fixture(scope="module")
def photo_batches():
    """Two batches of real photos, same shapes, different pixels: uint8 (4, 3, 192, 192) RGB each."""
    return sample_photo_batch(PHOTO_NAMES[:4]), sample_photo_batch(PHOTO_NAMES[2:6])


@pytest.mark.parametrize("nonmax", [True, False])
def test_torch_fast_map_on_xla_equals_cpu_and_reuses_its_graph(nonmax, photo_batches, xla):
    _flush()
    maps = []
    for index, photos in enumerate(photo_batches):
        metrics.clear_all()
        on_xla = keypoint_map(photos.to(xla), detector="fast", mode="faithful", backend="torch", nonmax=nonmax)
        torch_xla.sync()
        assert _no_fallbacks_or_transfers()
        if index == 1:
            assert _compile_count() == 0, "new photos of the same shape recompiled the FAST graph"
        on_cpu = keypoint_map(photos, detector="fast", mode="faithful", backend="torch", nonmax=nonmax)
        assert on_xla.shape == (4, 1, 192, 192) and on_xla.dtype == torch.float32
        assert torch.equal(on_xla.cpu(), on_cpu)
        assert on_cpu.sum() > 1000  # natural photos have hundreds of corners, each drawn as a 48-pixel ring
        maps.append(on_cpu)
    if not nonmax:  # suppression only removes corners, so its rings are a subset of these
        suppressed = keypoint_map(photo_batches[0], detector="fast", mode="faithful", backend="torch")
        assert torch.all(suppressed <= maps[0]) and suppressed.sum() < maps[0].sum()


def test_random_cell_masks_on_xla_have_exact_counts_whole_cells_and_one_graph(xla):
    _flush()
    geometry = {"input_size": 64, "mask_patch_size": 16, "model_patch_size": 4, "mask_ratio": 0.6}
    cells_per_image = num_masked_cells(64, 16, 0.6)
    assert cells_per_image == 10  # ceil(16 · 0.6)
    draws = []
    for index in range(2):
        metrics.clear_all()
        masks = random_cell_masks(8, device=xla, **geometry)
        torch_xla.sync()
        assert _no_fallbacks_or_transfers()
        if index == 1:
            assert _compile_count() == 0
        assert masks.device.type == "xla" and masks.dtype == torch.int64 and masks.shape == (8, 16, 16)
        draws.append(masks.cpu())
    for masks in draws:
        # 10 masked cells of 4 x 4 tokens per image, each cell entirely masked or entirely visible.
        assert torch.all(masks.sum(dim=(1, 2)) == cells_per_image * 16)
        cells = masks[:, ::4, ::4]
        assert torch.equal(cells.repeat_interleave(4, 1).repeat_interleave(4, 2), masks)
    # The device RNG advances between calls (a static graph must not freeze the mask).
    assert not torch.equal(draws[0], draws[1])

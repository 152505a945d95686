"""The pre-training sample: augmented uint8 crop, SimMIM mask and (optionally) keypoint weights (SPEC 1.6, 1.2)."""
from __future__ import annotations

from typing import Callable

import torch
from torchvision.transforms import InterpolationMode, v2

from kamim_lib._validation import check_positive

# SPEC 1.6: RandomResizedCrop scale and aspect ratio of the original pre-training.
PRETRAIN_CROP_SCALE = (0.67, 1.0)
PRETRAIN_CROP_RATIO = (3 / 4, 4 / 3)


class PretrainTransform:
    """PIL image -> ``{"image", "mask", "weights"}`` for masked image modelling.

    Augmentation (SPEC 1.6, the original's exactly): the image becomes a (3, H, W) uint8 tensor first, then
    ``RandomResizedCrop(img_size, scale=(0.67, 1), ratio=(3/4, 4/3))`` resamples the box bilinearly **without**
    antialiasing (the original's ``antialias=False``; on a uint8 tensor), then ``RandomVerticalFlip(0.5)``, then
    ``RandomHorizontalFlip(0.5)`` (the original's order, which fixes which random draw decides which flip); no
    colour jitter. Normalisation is left to the device (:func:`~kamim_lib.data.normalize_on_device`), so the uint8
    crop is both what the model sees and what the keypoint detector sees.

    ``crop_antialias=True`` resamples with antialiasing instead (a smoother crop; FAST then finds about a quarter
    fewer keypoints and the KAMIM weights change by about a third, see the README's deviation table).

    Args:
        img_size: side of the square crop in pixels.
        mask_generator: callable returning a (g, g) int64 token mask (1 = masked), e.g.
            ``kamim_lib.masking.RandomCellMask(...)``; None leaves ``"mask"`` out (masks drawn on the device with
            ``random_cell_masks`` instead).
        targets: a callable crop (3, H, W) uint8 -> dict of extra per-sample tensors (a method's
            ``loader_targets``, e.g. KAMIM's weights computed here in the worker:
            :class:`~kamim_lib.methods.kamim.WorkerKeypointWeights`), merged into the sample; None for none.
        scale, ratio: RandomResizedCrop ranges (defaults: the original's).
        hflip_prob, vflip_prob: flip probabilities (defaults 0.5 each).
        crop_antialias: antialias the crop's resampling (False: the original).

    Returns (on call):
        dict with ``"image"`` (3, img_size, img_size) uint8 RGB; ``"mask"`` (g, g) int64 when a generator is
        given; whatever ``targets`` returns for the augmented crop (KAMIM: ``"weights"`` (img_size / w_ps,
        img_size / w_ps) float32).
    """

    def __init__(self, *, img_size: int = 192, mask_generator: Callable[[], object] | None = None,
                 targets: Callable[[torch.Tensor], dict] | None = None,
                 scale: tuple[float, float] = PRETRAIN_CROP_SCALE, ratio: tuple[float, float] = PRETRAIN_CROP_RATIO,
                 hflip_prob: float = 0.5, vflip_prob: float = 0.5, crop_antialias: bool = False):
        if not isinstance(img_size, int):
            raise ValueError(f"img_size must be an int, got {img_size!r}.")
        check_positive("img_size", img_size)
        if mask_generator is not None and not callable(mask_generator):
            raise ValueError(f"mask_generator must be callable (e.g. RandomCellMask(...)) or None, got "
                             f"{type(mask_generator).__name__}.")
        mask_input_size = getattr(mask_generator, "input_size", img_size)
        if mask_input_size != img_size:
            raise ValueError(f"mask_generator.input_size={mask_input_size} must equal img_size={img_size}: the mask "
                             "covers the crop.")
        for name, probability in (("hflip_prob", hflip_prob), ("vflip_prob", vflip_prob)):
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {probability!r}.")
        if not isinstance(crop_antialias, bool):
            raise ValueError(f"crop_antialias must be True or False, got {crop_antialias!r}.")
        self.img_size = img_size
        self.mask_generator = mask_generator
        if targets is not None and not callable(targets):
            raise ValueError(f"targets must be callable (crop -> dict) or None, got {type(targets).__name__}.")
        self.targets = targets
        self.crop_antialias = crop_antialias
        self.augment = v2.Compose([
            v2.PILToTensor(),  # PIL -> (3, H, W) uint8 before the crop, as the original; tensors pass through
            v2.RandomResizedCrop(img_size, scale=tuple(scale), ratio=tuple(ratio),
                                 interpolation=InterpolationMode.BILINEAR, antialias=crop_antialias),
            v2.RandomVerticalFlip(vflip_prob),
            v2.RandomHorizontalFlip(hflip_prob),
        ])

    def __call__(self, image) -> dict[str, torch.Tensor]:
        crop = self.augment(image)
        crop = torch.as_tensor(crop).as_subclass(torch.Tensor).contiguous()
        if crop.dtype != torch.uint8 or crop.ndim != 3 or crop.shape[0] != 3:
            raise ValueError(f"PretrainTransform expects an RGB PIL image or a (3, H, W) uint8 tensor; got a crop of "
                             f"{crop.dtype} {tuple(crop.shape)}.")
        sample = {"image": crop}
        if self.mask_generator is not None:
            sample["mask"] = torch.as_tensor(self.mask_generator(), dtype=torch.int64)
        if self.targets is not None:
            sample.update(self.targets(crop))
        return sample

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(img_size={self.img_size}, mask_generator={self.mask_generator!r}, "
                f"targets={self.targets!r}, augment={self.augment!r})")

"""Linear probing without the noise of a short SGD run: a converged logistic regression on cached features.

The engine's probe trains a linear head by SGD for a few epochs; on a small run that head has not converged and
its accuracy moves by points between seeds. Here the frozen features are computed once and a scikit-learn
logistic regression (L-BFGS, standardised features) is fitted to convergence in seconds. Baselines beside it:

- raw pixels: the same classifier on the evaluation images themselves, average-pooled (``pixel_pool``) to keep it
  fast; a representation worth having beats it;
- random-init encoder: the same architecture and probed block, untrained.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kamim_lib.data import build_eval_transform
from kamim_lib.engine.heads import LinearProbe
from kamim_lib.engine.tasks import build_split
from kamim_lib.models import create_model


@dataclass(frozen=True)
class LabelledImages:
    """A whole split: ImageNet-normalised float (N, 3, H, W) images (evaluation transform) and int64 (N,) labels."""

    images: torch.Tensor
    labels: torch.Tensor


def labelled_split(config, split: str) -> LabelledImages:
    """Every image of ``split`` of the configured data set (cut to ``max_train_samples`` for "train", as the
    engine's runs are), through the evaluation transform."""
    dataset = build_split(config, split, build_eval_transform(config.img_size))
    images, labels = zip(*(dataset[index] for index in range(len(dataset))))
    return LabelledImages(torch.stack(images).float(), torch.as_tensor(labels, dtype=torch.int64))


@torch.no_grad()
def encoder_features(encoder: torch.nn.Module, images: torch.Tensor, *, layer: int, pooling: str = "mean",
                     batch_size: int = 128) -> np.ndarray:
    """Pooled output of block ``layer`` (1-based, no final norm) of a frozen encoder, as the engine's probe sees it.

    Returns:
        float32 (N, D).
    """
    probe = LinearProbe(encoder, num_classes=1, layer=layer, pooling=pooling).eval()
    return torch.cat([probe.features(images[start:start + batch_size]).float()
                      for start in range(0, len(images), batch_size)]).numpy()


def pixel_features(images: torch.Tensor, pixel_pool: int = 4) -> np.ndarray:
    """(N, 3, H, W) -> float32 (N, 3·(H/pool)·(W/pool)): the images average-pooled by ``pixel_pool``, flattened."""
    pooled = torch.nn.functional.avg_pool2d(images.float(), pixel_pool) if pixel_pool > 1 else images.float()
    return pooled.flatten(1).numpy()


def logistic_regression_top1(train_features: np.ndarray, train_labels, val_features: np.ndarray, val_labels, *,
                             regularization: float = 1.0, max_iter: int = 2000) -> float:
    """Top-1 % on the validation features of a multinomial logistic regression fitted on the training features.

    Features are standardised with the training set's mean and deviation; L-BFGS runs to convergence (or
    ``max_iter``). Deterministic: the BLAS runs on one thread, so the result does not depend on the machine's core
    count or on other notebooks running at once (a multi-threaded BLAS that shares its cores with another process
    spins: the fits of ``kamim reproduce --jobs 2`` took minutes instead of seconds).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=regularization, max_iter=max_iter))
    with threadpool_limits(limits=1):
        classifier.fit(train_features, np.asarray(train_labels))
        predictions = classifier.predict(val_features)
    return float(100.0 * (predictions == np.asarray(val_labels)).mean())


def encoder_top1(encoder: torch.nn.Module, train: LabelledImages, val: LabelledImages, *, layer: int,
                 pooling: str = "mean") -> float:
    """:func:`logistic_regression_top1` on the block-``layer`` features of ``encoder``."""
    return logistic_regression_top1(encoder_features(encoder, train.images, layer=layer, pooling=pooling),
                                    train.labels, encoder_features(encoder, val.images, layer=layer, pooling=pooling),
                                    val.labels)


def raw_pixel_top1(train: LabelledImages, val: LabelledImages, pixel_pool: int = 4) -> float:
    """The raw-pixel baseline: :func:`logistic_regression_top1` on :func:`pixel_features`."""
    return logistic_regression_top1(pixel_features(train.images, pixel_pool), train.labels,
                                    pixel_features(val.images, pixel_pool), val.labels)


def random_init_top1(config, train: LabelledImages, val: LabelledImages, seeds) -> float:
    """Mean over ``seeds`` of the probe top-1 of freshly initialised encoders (``torch.manual_seed(seed)``)."""
    values = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = create_model(config.model, img_size=config.img_size)
        values.append(encoder_top1(model.encoder, train, val, layer=config.probe_layer, pooling=config.pooling))
    return float(sum(values) / len(values))

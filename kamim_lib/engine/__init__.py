"""Training and evaluation: one loop (:func:`fit`) for pretraining, fine-tuning and linear probing.

>>> from kamim_lib.config import load_config
>>> from kamim_lib.engine import fit
>>> summary = fit(load_config("params/train/smoke.yaml", ["epochs=2"], section="pretrain"))
>>> summary["train_loss_first_epoch"], summary["train_loss_last_epoch"], summary["run_dir"]

On TPU, ``device=xla`` runs one process that drives every core (``xla_mode=spmd``, the default) or, with
``xla_mode=multiprocess``, ``fit`` starts one replica per core with ``torch_xla.launch`` (:mod:`.launch`).

Building blocks for notebooks: :func:`evaluate_classifier` (top-1/top-5), :func:`extract_features` and
:func:`knn_accuracy` (kNN on frozen features), :class:`LinearProbe` / :class:`FinetuneClassifier`,
:func:`load_backbone`, :func:`lr_at_step` (the schedule), :class:`RunDirectory` (the files of a run).
"""
from kamim_lib.engine.evaluation import (evaluate_classifier, extract_features, knn_accuracy, knn_classify,
                                         topk_correct)
from kamim_lib.engine.heads import FinetuneClassifier, LinearProbe, encoder_depth, pool_tokens, resolve_probe_layer
from kamim_lib.engine.launch import fit_in_xla_processes, launches_xla_processes
from kamim_lib.engine.fit import fit
from kamim_lib.engine.loop import NonFiniteLossError, accumulation_steps
from kamim_lib.engine.optim import build_optimizer, parameter_groups
from kamim_lib.engine.pretrained import load_backbone, resolve_checkpoint_path
from kamim_lib.engine.run_dir import RunDirectory
from kamim_lib.engine.sampling import EpochBatchSampler, PositionSeededDataset, mix_seed, seeded_rngs
from kamim_lib.engine.schedule import WarmupCosineSchedule, lr_at_step
from kamim_lib.engine.tasks import ClassifierTask, PretrainTask, build_split, build_task, classifier_train_transform

__all__ = [
    "ClassifierTask", "EpochBatchSampler", "FinetuneClassifier", "LinearProbe", "NonFiniteLossError",
    "PositionSeededDataset", "PretrainTask", "RunDirectory", "WarmupCosineSchedule", "accumulation_steps",
    "build_optimizer", "build_split", "build_task", "classifier_train_transform", "encoder_depth",
    "evaluate_classifier", "extract_features", "fit", "fit_in_xla_processes", "knn_accuracy", "knn_classify",
    "launches_xla_processes", "load_backbone", "lr_at_step", "mix_seed", "parameter_groups", "pool_tokens",
    "resolve_checkpoint_path", "resolve_probe_layer", "seeded_rngs", "topk_correct",
]

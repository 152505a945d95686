"""Evidence: the baselines and held-out measurements that say what a pretraining or probing number means.

- :mod:`.reconstruction` — held-out masked L1 of a model, of an image-blind predictor and of a random-init model;
- :mod:`.probing` — a converged logistic regression on cached frozen features, raw-pixel and random-init baselines;
- :mod:`.weighting` — where KAMIM's weight mass sits, reconstruction error by keypoint-density decile, and the
  shuffled-weights control;
- :mod:`.records` — the ``summary.json["evidence"]`` records (paired seeds, baselines, the paired interval).

Everything here takes models, tensors and configurations and returns numbers: nothing trains, nothing is written.
"""

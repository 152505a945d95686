"""kamim_paper.evidence.cache and the cached checkpoint measurements: a value is measured once per inputs, read back
exactly, and measured again whenever an input changes."""
import json

import numpy as np
import pytest
import torch

from kamim_paper.evidence import cache as cache_module
from kamim_paper.evidence.cache import MeasurementCache, file_digest, tensor_digest


class Counter:
    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def test_a_value_is_measured_once_and_read_back_exactly(tmp_path):
    cache = MeasurementCache(tmp_path / "measurements")
    measure = Counter({"l1": 0.1 + 0.2, "deciles": [1, 2.5]})
    first = cache.value("held_out_errors", {"checkpoint": "abc", "seeds": (0, 1)}, measure)
    again = cache.value("held_out_errors", {"checkpoint": "abc", "seeds": (0, 1)}, measure)
    assert measure.calls == 1
    assert first == again == {"l1": 0.1 + 0.2, "deciles": [1, 2.5]}  # floats round-trip bit for bit
    assert len(list((tmp_path / "measurements").glob("held_out_errors-*.json"))) == 1


def test_another_key_name_or_version_is_measured_again(tmp_path, monkeypatch):
    cache = MeasurementCache(tmp_path)
    measure = Counter(1.0)
    cache.value("probe_top1", {"checkpoint": "a"}, measure)
    cache.value("probe_top1", {"checkpoint": "b"}, measure)
    cache.value("raw_pixel_top1", {"checkpoint": "a"}, measure)
    assert measure.calls == 3
    monkeypatch.setattr(cache_module, "MEASUREMENT_VERSION", cache_module.MEASUREMENT_VERSION + 1)
    cache.value("probe_top1", {"checkpoint": "a"}, measure)
    assert measure.calls == 4


def test_an_unreadable_or_foreign_entry_is_measured_again_and_replaced(tmp_path):
    cache = MeasurementCache(tmp_path)
    key = {"checkpoint": "a"}
    path = cache.path("probe_top1", key)
    path.write_text("{ not json")
    assert cache.value("probe_top1", key, Counter(2.0)) == 2.0
    entry = json.loads(path.read_text())
    entry["key"]["checkpoint"] = "someone else"  # a different key stored under this name
    path.write_text(json.dumps(entry))
    measure = Counter(3.0)
    assert cache.value("probe_top1", key, measure) == 3.0 and measure.calls == 1
    assert not list(tmp_path.glob("*.tmp"))  # no half-written file is left behind


def test_without_a_directory_nothing_is_kept():
    measure = Counter(5.0)
    cache = MeasurementCache(None)
    assert cache.value("x", {}, measure) == cache.value("x", {}, measure) == 5.0
    assert measure.calls == 2


def test_digests_see_values_dtype_and_shape(tmp_path):
    a = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    assert tensor_digest(a) == tensor_digest(a.clone()) == tensor_digest(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert tensor_digest(a) != tensor_digest(a.reshape(3, 2))
    assert tensor_digest(a) != tensor_digest(a.double())
    b = a.clone()
    b[1, 2] += 1e-6
    assert tensor_digest(a) != tensor_digest(b)
    first, second = tmp_path / "a.pth", tmp_path / "b.pth"
    first.write_bytes(b"weights")
    second.write_bytes(b"weightz")
    assert file_digest(first) != file_digest(second)


def test_a_checkpoint_is_measured_once_per_bench_and_again_when_its_bytes_change(tmp_path, monkeypatch):
    from kamim_paper.evidence import probing
    from kamim_paper.evidence.probing import LabelledImages
    from kamim_paper.evidence import checkpoint_measures

    class Config:
        model, img_size, final_norm, probe_layer, pooling = "vit_micro12", 96, None, 4, "mean"

    split = LabelledImages(torch.zeros(4, 3, 8, 8), torch.tensor([0, 1, 0, 1]))
    bench = checkpoint_measures.ProbeBench(Config(), split, split, "bench-digest", MeasurementCache(tmp_path))
    calls = []
    monkeypatch.setattr(checkpoint_measures, "probe_encoder", lambda checkpoint, config: checkpoint)
    monkeypatch.setattr(probing, "encoder_top1", lambda encoder, *args, **kwargs: calls.append(encoder) or 75.0)
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"one")
    assert checkpoint_measures.probe_top1(str(checkpoint), bench) == 75.0
    assert checkpoint_measures.probe_top1(str(checkpoint), bench) == 75.0
    assert len(calls) == 1
    checkpoint.write_bytes(b"two")  # retrained in place: new bytes, new key
    checkpoint_measures.probe_top1(str(checkpoint), bench)
    assert len(calls) == 2
    other_bench = checkpoint_measures.ProbeBench(Config(), split, split, "other", MeasurementCache(tmp_path))
    checkpoint_measures.probe_top1(str(checkpoint), other_bench)
    assert len(calls) == 3


def test_config_cache_lives_in_the_runs_folder(tmp_path):
    class Config:
        out_dir = str(tmp_path / "runs")

    assert cache_module.config_cache(Config()).directory == tmp_path / "runs" / "measurements"
    with pytest.raises(ValueError, match="keeps nothing"):
        MeasurementCache(None).path("x", {})

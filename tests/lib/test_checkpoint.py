"""Checkpoints: atomic writes, weights_only loading, strict key checks, RNG state round trip."""
import random

import numpy as np
import pytest
import torch

from kamim_lib.checkpoint import (CHECKPOINT_FORMAT, CheckpointError, capture_rng_state, check_model_name,
                                  load_checkpoint, load_state_strict, restore_rng_state, save_checkpoint)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "ck" / "checkpoint-last.pt"
    save_checkpoint({"format": CHECKPOINT_FORMAT, "version": 1, "value": torch.tensor([1.0])}, path)

    def broken_save(obj, stream):
        stream.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"format": CHECKPOINT_FORMAT, "version": 1, "value": torch.tensor([2.0])}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["value"].item() == 1.0  # the previous checkpoint survived intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint-last.pt"]


class PickledObject:
    """Anything that is not a tensor or a plain container needs code to unpickle."""


def test_loading_refuses_pickled_code_and_foreign_files(tmp_path):
    torch.save({"format": CHECKPOINT_FORMAT, "object": PickledObject()}, tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match="objects other than tensors .*PickledObject.*can run code") as info:
        load_checkpoint(tmp_path / "code.pt")
    assert "weights_only=False" not in str(info.value)  # never relay torch's advice to turn the safe loader off
    torch.save({"model_state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a kamim checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_strict_loading_lists_missing_unexpected_and_mismatched_keys():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    state = {key: value.clone() for key, value in model.state_dict().items()}
    state.pop("1.bias")
    state["2.weight"] = torch.zeros(1)
    state["0.weight"] = torch.zeros(5, 4)
    with pytest.raises(CheckpointError) as info:
        load_state_strict(model, state, what="probe")
    message = str(info.value)
    assert "missing keys: 1.bias" in message and "unexpected keys: 2.weight" in message
    assert "0.weight (5, 4) vs (3, 4)" in message and message.startswith("probe weights")
    good = {key: value + 1 for key, value in model.state_dict().items()}
    load_state_strict(model, good)
    torch.testing.assert_close(model.state_dict()["0.bias"], good["0.bias"])


def test_wrong_model_is_a_clear_error():
    with pytest.raises(CheckpointError, match="holds weights of model='vit_t', but this run builds model='vit_nano'"):
        check_model_name({"model_name": "vit_t"}, "vit_nano", "x.pt")


def test_rng_states_round_trip_through_a_weights_only_file(tmp_path):
    random.random(), np.random.rand(), np.random.randn(), torch.rand(3)
    save_checkpoint({"format": CHECKPOINT_FORMAT, "version": 1, "rng": [capture_rng_state()]}, tmp_path / "r.pt")
    expected = (random.random(), np.random.rand(), np.random.randn(), torch.rand(3))
    restore_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"][0])
    again = (random.random(), np.random.rand(), np.random.randn(), torch.rand(3))
    assert expected[:3] == again[:3] and torch.equal(expected[3], again[3])

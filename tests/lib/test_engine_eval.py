"""Evaluation (top-k, kNN) and the classifier heads on real encoders."""
import pytest
import torch

from kamim_lib.engine import (FinetuneClassifier, LinearProbe, evaluate_classifier, extract_features, knn_accuracy,
                              knn_classify, pool_tokens, resolve_probe_layer, topk_correct)
from kamim_lib.models import create_model
from kamim_lib.runtime import Runtime


def test_topk_counts():
    logits = torch.tensor([[0.9, 0.1, 0.0], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    labels = torch.tensor([0, 1, 2])
    assert topk_correct(logits, labels, ks=(1, 2, 5)).tolist() == [1.0, 2.0, 3.0]


def test_evaluate_classifier_over_batches():
    model = torch.nn.Identity()  # logits = inputs
    batches = [(torch.eye(4)[[0, 1, 2, 3]], torch.tensor([0, 1, 3, 3])),
               {"image": torch.eye(4)[[2, 2]], "label": torch.tensor([2, 0])}]
    result = evaluate_classifier(model, batches, Runtime("cpu"))
    assert result["count"] == 6 and result["top1"] == pytest.approx(100 * 4 / 6) and result["top5"] == 100.0


class _RecordsTF32(torch.nn.Module):
    """Identity that records the TF32 flags seen by each forward."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, images):
        self.seen.append((torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32))
        return images


@pytest.mark.parametrize("precision, expected", [("fp32", (False, False)), ("autocast", (True, True))])
def test_fp32_validation_runs_without_tf32_even_when_training_allows_it(precision, expected):
    # tf32=auto turns TF32 on for the whole CUDA run (runtime.speed.tf32_matmuls around the loop); the original
    # validated in true fp32, so eval_precision=fp32 must turn it off inside validation and restore it after.
    from kamim_lib.runtime import tf32_matmuls

    model = _RecordsTF32()
    batches = [(torch.eye(3), torch.tensor([0, 1, 2]))]
    with tf32_matmuls(True):
        evaluate_classifier(model, batches, Runtime("cpu"), precision=precision)
        extract_features(model, batches, Runtime("cpu"), precision=precision)
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (True, True)
    assert model.seen == [expected, expected]


def test_knn_matches_a_brute_force_vote():
    generator = torch.Generator().manual_seed(0)
    reference, labels = torch.randn(50, 8, generator=generator), torch.randint(0, 4, (50,), generator=generator)
    queries = torch.randn(7, 8, generator=generator)
    scores = knn_classify(reference, labels, queries, num_classes=4, k=5, temperature=0.1, chunk_size=3)
    cosine = torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(reference, dim=1).T
    for row in range(7):
        top = cosine[row].topk(5)
        expected = torch.zeros(4)
        for similarity, index in zip(top.values, top.indices):
            expected[labels[index]] += torch.exp(similarity / 0.1)
        torch.testing.assert_close(scores[row], expected)


def test_knn_separates_clusters_and_is_near_chance_on_noise():
    generator = torch.Generator().manual_seed(1)
    centres = torch.randn(5, 16, generator=generator) * 5
    train_labels, val_labels = torch.arange(200) % 5, torch.arange(100) % 5
    train = centres[train_labels] + torch.randn(200, 16, generator=generator)
    val = centres[val_labels] + torch.randn(100, 16, generator=generator)
    assert knn_accuracy(train, train_labels, val, val_labels, num_classes=5)["knn_top1"] == 100.0
    noise = knn_accuracy(torch.randn(200, 16, generator=generator), train_labels,
                         torch.randn(100, 16, generator=generator), val_labels, num_classes=5)["knn_top1"]
    assert noise < 45.0


def test_pooling_drops_the_cls_token():
    tokens = torch.stack([torch.full((3, 2), 10.0), torch.ones(3, 2), torch.zeros(3, 2)], dim=1)  # (3, 1+2, 2)
    torch.testing.assert_close(pool_tokens(tokens, 1, "mean"), torch.full((3, 2), 0.5))
    torch.testing.assert_close(pool_tokens(tokens, 1, "cls"), torch.full((3, 2), 10.0))
    with pytest.raises(ValueError, match="needs a CLS token"):
        pool_tokens(tokens, 0, "cls")


def test_probe_layer_range():
    assert resolve_probe_layer(-1, 12) == 12 and resolve_probe_layer(8, 12) == 8
    with pytest.raises(ValueError, match="probe_layer=9 is out of range for an encoder with 8 blocks"):
        resolve_probe_layer(9, 8)


def test_linear_probe_reads_block_k_without_layernorm():
    encoder = create_model("vit_nano", img_size=32).encoder
    probe = LinearProbe(encoder, 10, layer=3, batchnorm=True)
    images = torch.randn(2, 3, 32, 32)
    expected = encoder.forward_intermediates(images).hidden_states[3][:, 1:].mean(dim=1)
    torch.testing.assert_close(probe.features(images), expected)
    assert [name for name, p in probe.named_parameters() if p.requires_grad] == ["head.weight", "head.bias"]
    probe.train()
    assert not probe.encoder.training and probe.norm.training and probe(images).shape == (2, 10)


def test_swin_probe_uses_the_width_of_the_probed_stage():
    encoder = create_model("swin_nano", img_size=32).encoder
    probe = LinearProbe(encoder, 3, layer=3)  # block 3 = first block of stage 2 (width 2 x 16)
    assert probe.features(torch.randn(2, 3, 32, 32)).shape == (2, 32) and probe.head.in_features == 32


def test_finetune_classifier_uses_the_final_norm_or_adds_one():
    with_norm = FinetuneClassifier(create_model("vit_nano", img_size=32).encoder, 10)
    without = FinetuneClassifier(create_model("vit_nano", img_size=32, final_norm=False).encoder, 10)
    assert isinstance(with_norm.fc_norm, torch.nn.Identity) and isinstance(without.fc_norm, torch.nn.LayerNorm)
    assert without(torch.randn(2, 3, 32, 32)).shape == (2, 10)

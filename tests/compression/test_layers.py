"""Invariants of the compressed layers and of layer discovery (tiny models, no downloads)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    ElectraConfig,
    ElectraForSequenceClassification,
    PreTrainedModel,
    RobertaConfig,
    RobertaForSequenceClassification,
)

from ladasearch.compression.layers import FactorizedEmbedding, FactorizedLinear, MaskedLinear
from ladasearch.compression.targets import encoder_linears, replace_module, word_embedding
from ladasearch.errors import RatioError

SHAPES = [(64, 64), (128, 64), (64, 128)]  # (out=m, in=n)
COMMON: dict[str, Any] = dict(
    vocab_size=40, num_hidden_layers=2, max_position_embeddings=40, num_labels=3
)


def _bert() -> PreTrainedModel:
    config = BertConfig(hidden_size=32, num_attention_heads=2, intermediate_size=64, **COMMON)
    return BertForSequenceClassification(config)


def _roberta() -> PreTrainedModel:
    config = RobertaConfig(
        hidden_size=32, num_attention_heads=2, intermediate_size=64, pad_token_id=1, **COMMON
    )
    return RobertaForSequenceClassification(config)


def _distilbert() -> PreTrainedModel:
    config = DistilBertConfig(
        vocab_size=40, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=40
    )
    return DistilBertForSequenceClassification(config)


def _electra() -> PreTrainedModel:
    config = ElectraConfig(
        embedding_size=16, hidden_size=48, num_attention_heads=2, intermediate_size=64, **COMMON
    )
    return ElectraForSequenceClassification(config)


FAMILIES = {"bert": _bert, "roberta": _roberta, "distilbert": _distilbert, "electra": _electra}


def _linear(m: int, n: int, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    linear = nn.Linear(n, m)
    nn.init.normal_(linear.bias)
    return linear


def _layer(kind: str, linear: nn.Linear, rank: int) -> MaskedLinear | FactorizedLinear:
    """``linear`` as a ``MaskedLinear`` (kind "masked") or a rank-``rank`` ``FactorizedLinear``."""
    if kind == "masked":
        return MaskedLinear.from_linear(linear)
    return FactorizedLinear.from_linear(linear, rank)


def _inputs(n: int) -> torch.Tensor:
    return torch.randn(3, 5, n, generator=torch.Generator().manual_seed(1))  # (batch, seq, n)


@pytest.mark.parametrize(("m", "n"), SHAPES)
def test_full_rank_svd_reproduces_dense(m: int, n: int) -> None:
    linear = _linear(m, n)
    factorized = FactorizedLinear.from_linear(linear, min(m, n))
    x = _inputs(n)
    assert factorized.a.shape == (m, min(m, n)) and factorized.b.shape == (min(m, n), n)
    torch.testing.assert_close(factorized(x), linear(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("m", "n"), SHAPES)
def test_keep_all_pruning_is_identity(m: int, n: int) -> None:
    linear, x = _linear(m, n), _inputs(n)
    factorized = FactorizedLinear.from_linear(linear, 7)
    before = factorized(x)
    factorized.prune_(1.0)
    assert torch.equal(factorized(x), before)
    masked = MaskedLinear.from_linear(linear)
    masked.prune_(1.0)
    assert torch.equal(masked(x), linear(x))
    assert masked.nonzero_count() == m * n + m


@pytest.mark.parametrize("kind", ["masked", "factorized"])
def test_pruned_entries_stay_zero_through_adamw(kind: str) -> None:
    linear = _linear(128, 64)
    layer = _layer(kind, linear, rank=9)
    layer.prune_(0.3)
    pruned = [(param, ~mask.clone()) for param, mask in layer.masked_parameters()]
    optimizer = torch.optim.AdamW(layer.parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(5):
        optimizer.zero_grad()
        layer(_inputs(64)).pow(2).mean().backward()
        optimizer.step()
    for param, removed in pruned:
        assert removed.any()
        assert torch.count_nonzero(param[removed]) == 0
    assert layer.nonzero_count(include_bias=False) == sum(
        int(torch.count_nonzero(param)) for param, _ in layer.masked_parameters()
    )


@pytest.mark.parametrize("kind", ["masked", "factorized"])
def test_eval_mode_rezeros_pruned_values_and_gives_the_training_outputs(kind: str) -> None:
    linear, x = _linear(128, 64), _inputs(64)
    layer = _layer(kind, linear, rank=9)
    layer.prune_(0.3)
    with torch.no_grad():
        expected = layer(x)  # training mode: multiplied by the mask
        for param, mask in layer.masked_parameters():
            param[~mask] = 7.0  # a stored pruned value that is no longer 0
    layer.eval()
    for param, mask in layer.masked_parameters():
        assert torch.count_nonzero(param[~mask]) == 0  # eval() re-zeroed them
    with torch.no_grad():
        torch.testing.assert_close(layer(x), expected, atol=1e-6, rtol=0)
    assert not layer.training and layer.train().training


@pytest.mark.parametrize("keep", [0.05, 0.3, 0.77])
def test_pruning_keeps_the_largest_entries_of_each_factor(keep: float) -> None:
    layer = FactorizedLinear.from_linear(_linear(128, 64), 10)
    originals = [param.detach().clone() for param, _ in layer.masked_parameters()]
    layer.prune_(keep)
    for original, (param, mask) in zip(originals, layer.masked_parameters(), strict=True):
        expected = max(1, round(keep * original.numel()))
        assert int(mask.sum()) == expected
        assert original.abs()[mask].min() >= original.abs()[~mask].max()
        assert torch.equal(param[mask], original[mask])


@pytest.mark.parametrize("kind", ["masked", "factorized"])
def test_dense_weight_and_to_dense_match_module(kind: str) -> None:
    linear, x = _linear(64, 128), _inputs(128)
    layer = _layer(kind, linear, rank=12)
    layer.prune_(0.4)
    dense = layer.to_dense()
    assert isinstance(dense, nn.Linear)
    torch.testing.assert_close(dense(x), layer(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        nn.functional.linear(x, layer.dense_weight(), layer.bias), layer(x), atol=1e-5, rtol=0
    )


def test_retruncation_lowers_the_rank_through_the_current_product() -> None:
    linear, x = _linear(128, 64), _inputs(64)
    first = FactorizedLinear.from_linear(linear, 20)
    first.prune_(0.5)
    same = FactorizedLinear.from_linear(first, 20)  # product already has rank <= 20
    torch.testing.assert_close(same(x), first(x), atol=1e-4, rtol=0)
    lower = FactorizedLinear.from_linear(first, 8)
    reference = FactorizedLinear.from_linear(first.to_dense(), 8)
    assert lower.rank == 8 and lower.nonzero_count(include_bias=False) == 8 * (128 + 64)
    torch.testing.assert_close(lower.dense_weight(), reference.dense_weight(), atol=1e-5, rtol=0)
    masked = MaskedLinear.from_linear(linear)
    masked.prune_(0.5)
    from_masked = FactorizedLinear.from_linear(masked, 64)
    torch.testing.assert_close(from_masked(x), masked(x), atol=1e-4, rtol=0)


def test_bad_rank_and_keep_fraction_raise() -> None:
    with pytest.raises(RatioError, match="rank"):
        FactorizedLinear.from_linear(_linear(8, 4), 5)
    layer = MaskedLinear.from_linear(_linear(8, 4))
    with pytest.raises(RatioError, match="keep_fraction"):
        layer.prune_(1.5)


def test_half_precision_layers_keep_their_dtype() -> None:
    linear = _linear(64, 32).to(torch.bfloat16)
    layer = FactorizedLinear.from_linear(linear, 32)
    assert layer.a.dtype == torch.bfloat16 and layer.mask_a.dtype == torch.bool
    x = _inputs(32).to(torch.bfloat16)
    torch.testing.assert_close(layer(x).float(), linear(x).float(), atol=0.1, rtol=0.05)


def test_factorized_embedding_full_rank_equals_lookup() -> None:
    torch.manual_seed(0)
    embedding = nn.Embedding(40, 16, padding_idx=0)
    factorized = FactorizedEmbedding.from_embedding(embedding, 16)
    ids = torch.randint(0, 40, (3, 7))
    torch.testing.assert_close(factorized(ids), embedding(ids), atol=1e-5, rtol=0)
    assert factorized.weight.shape == (40, 16)
    assert (factorized.num_embeddings, factorized.embedding_dim, factorized.padding_idx) == (
        40,
        16,
        0,
    )
    lower = FactorizedEmbedding.from_embedding(factorized, 4)
    assert lower.rank == 4 and lower.nonzero_count() == 4 * (40 + 16)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_factorized_embedding_replaces_input_embeddings(family: str) -> None:
    torch.manual_seed(0)
    model = FAMILIES[family]().eval()
    ids = torch.randint(2, 40, (2, 9))
    reference = model(input_ids=ids).logits
    _, embedding = word_embedding(model)
    assert isinstance(embedding, nn.Embedding)
    full = min(embedding.num_embeddings, embedding.embedding_dim)
    model.set_input_embeddings(FactorizedEmbedding.from_embedding(embedding, full))
    assert isinstance(model.get_input_embeddings(), FactorizedEmbedding)
    torch.testing.assert_close(model(input_ids=ids).logits, reference, atol=1e-4, rtol=0)
    model.set_input_embeddings(FactorizedEmbedding.from_embedding(model.get_input_embeddings(), 3))
    assert model(input_ids=ids).logits.shape == (2, model.config.num_labels)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_encoder_linears_found_by_pattern(family: str) -> None:
    model = FAMILIES[family]()
    found = encoder_linears(model)
    names = [fqn for fqn, _ in found]
    assert len(found) == 2 * 6  # q, k, v, attention output, intermediate, output per layer
    assert all(isinstance(module, nn.Linear) for _, module in found)
    assert not any("pooler" in fqn or "classifier" in fqn or "project" in fqn for fqn in names)
    fqn, _ = word_embedding(model)
    assert fqn.endswith("embeddings.word_embeddings")


def test_encoder_linears_also_finds_compressed_layers() -> None:
    model = _bert()
    fqn, module = encoder_linears(model)[0]
    assert isinstance(module, nn.Linear)
    replace_module(model, fqn, FactorizedLinear.from_linear(module, 4))
    found = dict(encoder_linears(model))
    assert isinstance(found[fqn], FactorizedLinear) and len(found) == 12


def test_replace_module_keeps_dtype() -> None:
    model = _bert().double()
    fqn, module = encoder_linears(model)[0]
    assert isinstance(module, nn.Linear)
    replace_module(model, fqn, MaskedLinear(module.in_features, module.out_features))
    replaced = model.get_submodule(fqn)
    assert isinstance(replaced, MaskedLinear)
    assert replaced.weight.dtype == torch.float64 and replaced.mask.dtype == torch.bool

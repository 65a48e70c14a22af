"""Part 1, the paper's Table 3: LadaBERT's searched ratios against the baselines at each ratio.

At each compression factor: (a) ``search``: a constrained-TPE search (LadaBERT's four losses) whose
first trial is the balanced point (as in the shipped MiniLM studies' ``enqueue: balanced``); the
trial with the best dev accuracy is reported on test. With the P_embd that trial found:
(b) ``pruning``: P_svd = 1, P_weight solved by eq. 7 (weight pruning only); (c) ``svd``:
P_weight = 1, P_svd solved by eq. 7 (matrix factorization only); (d) ``hybrid-ft``: the searched
ratios, trained on the labels without distillation. (b), (c) and (d) are trained without
distillation, as the paper's baselines are (section 3.3 / 4.1), each iterative with the same
budget as (a). (e) ``scratch``: a student of the same size and architecture class, randomly
initialised and distilled with the same four losses (TinyBERT without general distillation).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.runs import (
    Bench,
    Job,
    fixed_proposal,
    ratio_label,
    run_trials,
    space_proposal,
    study_name,
)
from ladasearch.compression.accounting import solve_p_svd, solve_p_weight
from ladasearch.compression.ratios import RATIO_KEYS
from ladasearch.search.space import build_space, enqueue_points

__all__ = [
    "PAPER_SST2",
    "PAPER_TEACHER_SST2",
    "VARIANTS",
    "QualityRow",
    "collect_quality",
    "run_quality",
]

VARIANTS = {
    "search": "LadaBERT, searched ratios",
    "pruning": "weight pruning only",
    "svd": "SVD only (matrix factorization)",
    "hybrid-ft": "hybrid pruning, no distillation",
    "scratch": "small student from scratch (TinyBERT w/o general distillation)",
}

PAPER_TEACHER_SST2 = 93.5
"""BERT-base on SST-2 (LadaBERT Table 3)."""

PAPER_SST2: dict[str, dict[float, float]] = {
    "search": {2.5: 92.8, 5.0: 91.8, 7.5: 89.9, 10.0: 84.0},
    "pruning": {2.5: 92.3, 5.0: 84.8, 7.5: 81.8, 10.0: 80.4},
    "svd": {2.5: 87.6, 5.0: 82.8, 7.5: 81.3, 10.0: 79.2},
    "hybrid-ft": {2.5: 90.0, 5.0: 85.4, 7.5: 83.5, 10.0: 81.5},
    "scratch": {7.5: 89.5},
}
"""SST-2 test accuracy of each method in LadaBERT's Table 3 (TinyBERT for ``scratch``)."""


@dataclass(frozen=True)
class QualityRow:
    """One method at one ratio, from its stored trial."""

    factor: float
    variant: str
    test_accuracy: float
    teacher_test_accuracy: float
    ratio: float
    p_embd: float | None
    p_svd: float | None
    p_weight: float | None
    source: tuple[str, str, str]

    @property
    def retained(self) -> float:
        """Test accuracy over the teacher's."""
        return self.test_accuracy / self.teacher_test_accuracy

    @property
    def paper_retained(self) -> float | None:
        """The paper's SST-2 retention of this method at this ratio, when it reports one."""
        accuracy = PAPER_SST2.get(self.variant, {}).get(self.factor)
        return None if accuracy is None else accuracy / PAPER_TEACHER_SST2


def _baseline_ratios(bench: Bench, target: float, p_embd: float) -> dict[str, dict[str, float]]:
    groups = bench.groups()
    p_weight = float(solve_p_weight(groups, target, p_embd, 1.0))
    return {
        "pruning": {"p_embd": p_embd, "p_svd": 1.0, "p_weight": p_weight},
        "svd": {"p_embd": p_embd, "p_svd": solve_p_svd(groups, target, p_embd), "p_weight": 1.0},
    }


def run_quality(bench: Bench) -> None:
    """Run (or resume) every study of part 1."""
    profile = bench.profile
    for factor in profile.quality_ratios:
        target = 1.0 / factor
        space = build_space("constrained", bench.sizes(), target=target, target_range=None, seed=0)
        trials = run_trials(
            bench,
            study_name(profile.name, "quality", "search", factor),
            trials=profile.quality_search_trials,
            propose=space_proposal(space),
            job=Job(),
            budget=profile.quality,
            sampler="tpe",
            enqueue=enqueue_points(space, "balanced"),
            attrs={"variant": "search", "factor": factor},
        )
        best = max(trials, key=lambda t: float(t.user_attrs["accuracy"]))
        searched = {k: float(best.user_attrs[k]) for k in RATIO_KEYS}
        fixed = {**_baseline_ratios(bench, target, searched["p_embd"]), "hybrid-ft": searched}
        for variant, ratios in fixed.items():
            objective = "finetune"
            run_trials(
                bench,
                study_name(profile.name, "quality", variant, factor),
                trials=1,
                propose=fixed_proposal(ratios, target),
                job=Job(objective=objective),
                budget=profile.quality,
                attrs={"variant": variant, "factor": factor, "from_trial": best.number},
            )
        run_trials(
            bench,
            study_name(profile.name, "quality", "scratch", factor),
            trials=1,
            propose=fixed_proposal({"p_embd": 1.0, "p_svd": 1.0, "p_weight": 1.0}, target),
            job=Job(scratch=True),
            budget=profile.quality,
            attrs={"variant": "scratch", "factor": factor},
        )
        bench.echo(f"quality at {ratio_label(factor)}: done")


def _source(attrs: dict[str, object]) -> tuple[str, str, str]:
    return (
        str(attrs.get("bench_command")),
        str(attrs.get("bench_machine")),
        str(attrs.get("bench_date")),
    )


def _maybe(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def collect_quality(bench: Bench) -> list[QualityRow]:
    """Rows of part 1 from the stored trials (the best-by-dev trial of each search)."""
    rows: list[QualityRow] = []
    for factor in bench.profile.quality_ratios:
        for variant in VARIANTS:
            trials = bench.trials(study_name(bench.profile.name, "quality", variant, factor))
            if not trials:
                continue
            best = max(trials, key=lambda t: float(t.user_attrs["accuracy"]))
            attrs = best.user_attrs
            scratch = variant == "scratch"
            rows.append(
                QualityRow(
                    factor=factor,
                    variant=variant,
                    test_accuracy=float(attrs["test_accuracy"]),
                    teacher_test_accuracy=float(attrs["teacher_test_accuracy"]),
                    ratio=float(attrs["ratio"]),
                    p_embd=None if scratch else _maybe(attrs.get("p_embd")),
                    p_svd=None if scratch else _maybe(attrs.get("p_svd")),
                    p_weight=None if scratch else _maybe(attrs.get("p_weight")),
                    source=_source(attrs),
                )
            )
    return rows

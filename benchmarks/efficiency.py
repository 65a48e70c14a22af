"""Part 3: search efficiency at one target (5x): best dev accuracy against the number of trials.

Three searches, each over several seeds, with the search service's own spaces and samplers:
the constraint-aware space with TPE, independent random sampling of the three ratios, and
rejection sampling (free samples, those off the target discarded). A trial counts towards "best"
only when its measured ratio is within 1% of the target (the service's tolerance): a model of
another size does not answer the question asked. Rejection sampling's waste is the fraction of
its draws it discarded. The paper's Table 2 ratios at the target are one reference trial.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from benchmarks.curves import paper_point
from benchmarks.runs import Bench, Job, fixed_proposal, run_trials, space_proposal, study_name
from ladasearch.search.space import TOLERANCE, build_space

__all__ = ["SEARCHES", "EfficiencyResult", "SearchCurve", "collect_efficiency", "run_efficiency"]

SEARCHES = {
    "constrained": ("tpe", "constraint-aware space + TPE"),
    "independent": ("random", "independent random sampling"),
    "rejection": ("random", "rejection sampling"),
}
"""Space -> (sampler, label)."""


@dataclass(frozen=True)
class SearchCurve:
    """One search over its seeds: best on-target dev accuracy after n trials (None: none yet)."""

    space: str
    best: tuple[tuple[float | None, ...], ...]  # [seed][n - 1]
    trials: int
    on_target: int
    rejected: int
    sources: tuple[tuple[str, str, str], ...]

    def summary(self, n: int) -> tuple[float, float, float, int] | None:
        """(mean, min, max, seeds with a value) of the best after ``n`` trials, or None."""
        values = [seed[n - 1] for seed in self.best if len(seed) >= n and seed[n - 1] is not None]
        if not values:
            return None
        numbers = [float(v) for v in values if v is not None]
        return statistics.fmean(numbers), min(numbers), max(numbers), len(numbers)

    @property
    def wasted(self) -> float | None:
        """Rejected draws over all draws (rejection sampling only)."""
        if self.space != "rejection":
            return None
        return self.rejected / max(1, self.rejected + self.trials)


@dataclass(frozen=True)
class EfficiencyResult:
    """Part 3's numbers: one curve per search, and the Table 2 reference trial."""

    target_factor: float
    curves: tuple[SearchCurve, ...]
    paper_accuracy: float | None
    paper_source: tuple[str, str, str] | None


def run_efficiency(bench: Bench) -> None:
    """Run (or resume) every search of part 3 and the Table 2 reference trial."""
    profile = bench.profile
    factor = profile.efficiency_target
    target = 1.0 / factor
    job = Job(measure_latency=False, save=False)
    for seed in profile.efficiency_seeds:
        for space_kind, (sampler, _) in SEARCHES.items():
            space = build_space(
                space_kind, bench.sizes(), target=target, target_range=None, seed=seed
            )
            run_trials(
                bench,
                study_name(profile.name, "efficiency", f"{space_kind}-s{seed}", factor),
                trials=profile.efficiency_trials,
                propose=space_proposal(space),
                job=job,
                budget=profile.efficiency,
                seed=seed,
                sampler=sampler,
                attrs={"space": space_kind, "sampler": sampler, "seed": seed, "factor": factor},
            )
    run_trials(
        bench,
        study_name(profile.name, "efficiency", "paper-table2", factor),
        trials=1,
        propose=fixed_proposal(paper_point(bench, target), target),
        job=job,
        budget=profile.efficiency,
        attrs={"variant": "paper-table2", "factor": factor},
    )


def _source(attrs: dict[str, object]) -> tuple[str, str, str]:
    return (str(attrs["bench_command"]), str(attrs["bench_machine"]), str(attrs["bench_date"]))


def collect_efficiency(bench: Bench) -> EfficiencyResult:
    """Part 3's numbers from the stored trials."""
    profile = bench.profile
    factor = profile.efficiency_target
    target = 1.0 / factor
    curves = []
    for space_kind in SEARCHES:
        best_per_seed: list[tuple[float | None, ...]] = []
        trials = on_target = rejected = 0
        sources: set[tuple[str, str, str]] = set()
        for seed in profile.efficiency_seeds:
            stored = bench.trials(
                study_name(profile.name, "efficiency", f"{space_kind}-s{seed}", factor)
            )
            best: float | None = None
            running: list[float | None] = []
            for trial in stored[: profile.efficiency_trials]:
                attrs = trial.user_attrs
                trials += 1
                rejected += int(attrs.get("rejected_samples", 0) or 0)
                sources.add(_source(attrs))
                if abs(float(attrs["ratio"]) - target) <= TOLERANCE * target:
                    on_target += 1
                    accuracy = float(attrs["accuracy"])
                    best = accuracy if best is None else max(best, accuracy)
                running.append(best)
            if stored:
                best_per_seed.append(tuple(running))
        if best_per_seed:
            curves.append(
                SearchCurve(
                    space_kind,
                    tuple(best_per_seed),
                    trials,
                    on_target,
                    rejected,
                    tuple(sorted(sources)),
                )
            )
    paper = bench.trials(study_name(profile.name, "efficiency", "paper-table2", factor))
    return EfficiencyResult(
        factor,
        tuple(curves),
        float(paper[0].user_attrs["accuracy"]) if paper else None,
        _source(paper[0].user_attrs) if paper else None,
    )

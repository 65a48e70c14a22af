"""Benchmark profiles: every budget of every part, as dataclasses, and a duration estimate.

``smoke`` runs the whole pipeline on a tiny model and task (tests); ``quick`` (<= 45 min) and
``cpu`` (<= 2.5 h) are sized for a 2-core CPU with the offline ``minilm`` teacher on ``rt``;
``full`` is for a GPU. All parts of a profile share one teacher (same fine-tuning settings, so the
teacher is trained once and cached). The estimate multiplies counted steps and evaluations by the
per-step costs measured on an idle 2-core CPU (:class:`CpuCosts`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ladasearch.compression.schedule import TrainingSettings
from ladasearch.compression.teacher import TeacherConfig
from ladasearch.errors import LadaError
from ladasearch.search.study_file import TeacherSettings, TrialSettings
from ladasearch.search.study_settings import teacher_config, training_settings

__all__ = ["PROFILES", "CpuCosts", "Profile", "RunBudget", "estimate_seconds", "get_profile"]


@dataclass(frozen=True)
class RunBudget:
    """The training budget of one run (a search trial, a baseline, a curve)."""

    iterations: int
    steps: int
    batch_size: int = 32
    learning_rate: float = 2e-4  # short CPU budgets need a larger step than the paper's 2e-5
    max_length: int = 64

    def training_settings(
        self, objective: str = "distill", eval_every: int | None = None
    ) -> TrainingSettings:
        """The engine's :class:`TrainingSettings` for this budget."""
        trial = TrialSettings(
            iterations=self.iterations,
            steps=self.steps,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            max_length=self.max_length,
        )
        return training_settings(trial, objective=objective, eval_every=eval_every)

    @property
    def total_steps(self) -> int:
        """Training steps of one run (iterations x steps)."""
        return self.iterations * self.steps


@dataclass(frozen=True)
class Profile:
    """Every budget of one benchmark run. Ratios are compression factors (5.0 = 5x)."""

    name: str
    description: str
    limit_minutes: float | None
    headline: bool = False  # writes the repo's BENCHMARKS.md (else results/<name>/BENCHMARKS.md)
    model: str = "minilm"
    task: str = "rt"
    text_column: str | None = None
    label_column: str | None = None
    teacher_steps: int = 300
    teacher_batch_size: int = 32
    teacher_learning_rate: float = 5e-5
    quality_ratios: tuple[float, ...] = (5.0, 10.0)
    quality_search_trials: int = 2
    quality: RunBudget = field(default_factory=lambda: RunBudget(2, 25))
    curve_ratio: float = 7.5
    curve: RunBudget = field(default_factory=lambda: RunBudget(2, 25))
    eval_every: int = 10
    efficiency_target: float = 5.0
    efficiency_seeds: tuple[int, ...] = (0, 1, 2)
    efficiency_trials: int = 2
    efficiency: RunBudget = field(default_factory=lambda: RunBudget(1, 15))
    costs_ray_trials: int = 2

    def teacher_config(self) -> TeacherConfig:
        """The one teacher of every part (seed 0; max_length shared by all budgets)."""
        teacher = TeacherSettings(
            steps=self.teacher_steps,
            batch_size=self.teacher_batch_size,
            learning_rate=self.teacher_learning_rate,
        )
        return teacher_config(teacher, study_seed=0, max_length=self.quality.max_length)

    def with_overrides(self, **changes: Any) -> Profile:
        """A copy with ``changes`` (``None`` values ignored), e.g. another model or task.

        A copy that measures another model or task no longer writes the repo's BENCHMARKS.md.
        """
        given = {k: v for k, v in changes.items() if v is not None}
        changed = dataclasses.replace(self, **given)
        if changed.subject() != self.subject():
            changed = dataclasses.replace(changed, headline=False)
        return changed

    def subject(self) -> dict[str, str | None]:
        """What this profile measures: model, task and its columns (recorded on every study)."""
        return {
            "model": self.model,
            "task": self.task,
            "text_column": self.text_column,
            "label_column": self.label_column,
        }

    def budget_lines(self) -> list[str]:
        """The budgets in words (printed at start and written into BENCHMARKS.md)."""

        def run(budget: RunBudget) -> str:
            return (
                f"{budget.iterations} iterations x {budget.steps} steps, batch {budget.batch_size}, "
                f"lr {budget.learning_rate:g}, max length {budget.max_length}"
            )

        ratios = ", ".join(f"{r:g}x" for r in self.quality_ratios)
        seeds = ", ".join(str(s) for s in self.efficiency_seeds)
        return [
            f"model `{self.model}`, task `{self.task}`",
            f"teacher: {self.teacher_steps} fine-tuning steps, batch {self.teacher_batch_size}, "
            f"lr {self.teacher_learning_rate:g} (trained once, cached, shared by every part)",
            f"quality: ratios {ratios}; constrained-TPE search of {self.quality_search_trials} "
            f"trials per ratio; every run {run(self.quality)}",
            f"curves: at {self.curve_ratio:g}x, {run(self.curve)}, dev accuracy every "
            f"{self.eval_every} steps",
            f"efficiency: at {self.efficiency_target:g}x, {self.efficiency_trials} trials per "
            f"space and seed, seeds {seeds}; every trial {run(self.efficiency)}",
            f"costs: a Ray Tune + Optuna study of {self.costs_ray_trials} "
            f"trial{'s' if self.costs_ray_trials != 1 else ''} with the efficiency budget, "
            "against the same trial run in-process",
        ]


@dataclass(frozen=True)
class CpuCosts:
    """Seconds on an idle 2-core CPU for ``minilm`` on ``rt`` (batch 32, dynamic padding).

    Measured by the ``cpu`` profile's run of 2026-11-21 (trial ``timings``): distillation 0.64 s a
    step at 2.5x and 0.71 s at 5x (2 x 40 steps), label fine-tuning 0.35 s (SVD only) to 0.8 s
    (pruning only, full-size matrices), a dev evaluation 8.8 s, latency and saving 7.3 s, the
    teacher's 300 steps and evaluations 197 s. With these the estimate of that run was 142.5 min;
    it took 137 min.
    """

    distill_step: float = 0.7
    finetune_step: float = 0.55
    scratch_step: float = 0.3  # teacher forward + a small student
    teacher_step: float = 0.6
    dev_eval: float = 9.0
    test_eval: float = 8.0
    latency: float = 8.0  # student and teacher, batch 1 and 32, and saving
    compress: float = 2.0  # SVD and pruning, per iteration
    job_setup: float = 4.0  # task, tokenization, cached teacher
    ray_study: float = 30.0  # Ray start, teacher task, actor start-up


def _run_seconds(
    budget: RunBudget, step: float, costs: CpuCosts, *, curve_every: int | None = None
) -> float:
    evals = budget.iterations * costs.dev_eval + costs.dev_eval + costs.test_eval
    if curve_every:
        evals += budget.total_steps // curve_every * costs.dev_eval
    return (
        costs.job_setup
        + budget.total_steps * step
        + budget.iterations * costs.compress
        + evals
        + costs.latency
    )


def estimate_seconds(profile: Profile, costs: CpuCosts | None = None) -> dict[str, float]:
    """Estimated seconds of each part on a 2-core CPU (``total`` too), before any cache hit."""
    c = costs or CpuCosts()
    q, n = profile.quality, len(profile.quality_ratios)
    quality = n * (
        profile.quality_search_trials * _run_seconds(q, c.distill_step, c)
        + 3 * _run_seconds(q, c.finetune_step, c)
        + _run_seconds(q, c.scratch_step, c)
    )
    curves = _run_seconds(profile.curve, c.distill_step, c, curve_every=profile.eval_every)
    curves += _run_seconds(profile.curve, c.scratch_step, c, curve_every=profile.eval_every)
    trial = _run_seconds(profile.efficiency, c.distill_step, c)
    efficiency = (3 * len(profile.efficiency_seeds) * profile.efficiency_trials + 1) * trial
    costs_part = c.ray_study + (profile.costs_ray_trials + 1) * trial
    parts = {
        "teacher": profile.teacher_steps * c.teacher_step + c.dev_eval + c.test_eval,
        "quality": quality,
        "curves": curves,
        "efficiency": efficiency,
        "costs": costs_part,
    }
    parts["total"] = sum(parts.values())
    return parts


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="tiny model and task: checks the pipeline end to end (tests only)",
        limit_minutes=None,
        model="tiny",
        task="tiny",
        teacher_steps=60,
        teacher_batch_size=16,
        teacher_learning_rate=3e-3,
        quality_ratios=(2.5, 5.0),
        quality_search_trials=2,
        quality=RunBudget(2, 2, batch_size=16, learning_rate=1e-3, max_length=16),
        curve_ratio=5.0,
        curve=RunBudget(2, 2, batch_size=16, learning_rate=1e-3, max_length=16),
        eval_every=1,
        efficiency_seeds=(0, 1, 2),
        efficiency_trials=2,
        efficiency=RunBudget(1, 2, batch_size=16, learning_rate=1e-3, max_length=16),
        costs_ray_trials=1,
    ),
    "quick": Profile(
        name="quick",
        description="shows the whole pipeline runs on a 2-core CPU (at most 45 minutes)",
        limit_minutes=45,
        quality_ratios=(5.0, 10.0),
        quality_search_trials=2,
        quality=RunBudget(2, 30),
        curve=RunBudget(2, 30),
        eval_every=15,
        efficiency_seeds=(0, 1, 2),
        efficiency_trials=2,
        efficiency=RunBudget(1, 20),
        costs_ray_trials=1,
    ),
    "cpu": Profile(
        name="cpu",
        description="the numbers BENCHMARKS.md reports, on a 2-core CPU (at most 2.5 hours)",
        limit_minutes=150,
        headline=True,
        quality_ratios=(2.5, 5.0, 7.5, 10.0),
        quality_search_trials=3,
        quality=RunBudget(2, 100),
        curve=RunBudget(2, 100),
        eval_every=25,
        efficiency_seeds=(0, 1, 2),
        efficiency_trials=3,
        efficiency=RunBudget(2, 40),
        costs_ray_trials=1,
    ),
    "full": Profile(
        name="full",
        description="a GPU run: longer teacher, search and distillation",
        limit_minutes=None,
        teacher_steps=2000,
        quality_ratios=(2.5, 5.0, 7.5, 10.0),
        quality_search_trials=8,
        quality=RunBudget(3, 1000, learning_rate=2e-5, max_length=128),
        curve=RunBudget(3, 1000, learning_rate=2e-5, max_length=128),
        eval_every=200,
        efficiency_seeds=(0, 1, 2, 3, 4),
        efficiency_trials=12,
        efficiency=RunBudget(2, 300, learning_rate=2e-5, max_length=128),
        costs_ray_trials=3,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; one-line :class:`LadaError` for an unknown one."""
    if name not in PROFILES:
        raise LadaError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}")
    return PROFILES[name]

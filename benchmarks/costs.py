"""Part 4: what a trial costs, and what the exported models cost at inference.

Wall time: one configuration (the balanced ratios at the efficiency target) runs as a
trial of a real search (``search.orchestrator.run_study``: Ray Tune + Optuna on the study
database) and once in-process; the in-process run's ``timings`` give the engine's breakdown
(teacher, factorization and pruning, distillation, evaluation, latency), and the orchestration
overhead is the Ray trial's wall time seen by the driver (Optuna's start and completion times)
minus the in-process run's total. Latency (batch 1 and 32) and bytes on disk come from the
exported models of part 1, against the teacher's, on the device the run had.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from benchmarks.curves import balanced_point
from benchmarks.quality import VARIANTS
from benchmarks.runs import Bench, Job, fixed_proposal, run_trials, study_name
from ladasearch.search.orchestrator import run_study
from ladasearch.search.study_file import parse_study

__all__ = ["CostResult", "LatencyRow", "collect_costs", "run_costs"]


@dataclass(frozen=True)
class LatencyRow:
    """Latency and size of one exported model (part 1) against its teacher."""

    factor: float
    variant: str
    device: str
    latency_ms: float
    latency_ms_b32: float
    teacher_latency_ms: float
    teacher_latency_ms_b32: float
    bytes_on_disk: int
    teacher_bytes_on_disk: int
    source: tuple[str, str, str]


@dataclass(frozen=True)
class CostResult:
    """The breakdown of one trial's wall time (seconds) and the latency table."""

    breakdown: dict[str, float]
    ray_trial_s: float | None
    study_wall_s: float | None
    latency: tuple[LatencyRow, ...]
    source: tuple[str, str, str] | None
    ray_source: tuple[str, str, str] | None = None


def _study_file(bench: Bench, name: str, point: dict[str, float]) -> Any:
    profile = bench.profile
    budget = profile.efficiency
    teacher = profile.teacher_config()
    data: dict[str, Any] = {
        "name": name,
        "model": profile.model,
        "task": profile.task,
        "mode": "fixed",
        "target": 1.0 / profile.efficiency_target,
        "trials": profile.costs_ray_trials,
        "space": "constrained",
        "sampler": "tpe",
        "scheduler": "none",
        "seed": 0,
        "enqueue": [point],
        "runs_dir": str(bench.results_dir / "runs"),
        "trial": {
            "iterations": budget.iterations,
            "steps": budget.steps,
            "batch_size": budget.batch_size,
            "learning_rate": budget.learning_rate,
            "max_length": budget.max_length,
        },
        "teacher": {
            "steps": teacher.steps,
            "batch_size": teacher.batch_size,
            "learning_rate": teacher.learning_rate,
            "allow_weak": True,  # a cost measurement, not a quality one
        },
        "resources": {"cpu": float(os.cpu_count() or 1), "gpu": 0.0},
    }
    for key in ("text_column", "label_column"):
        if getattr(profile, key):
            data[key] = getattr(profile, key)
    return parse_study(data, source=f"<{name}>")


def run_costs(bench: Bench) -> None:
    """Run (or resume) the Ray study and the in-process run of the same configuration."""
    import optuna

    profile = bench.profile
    factor = profile.efficiency_target
    target = 1.0 / factor
    point = balanced_point(bench, target)
    name = study_name(profile.name, "costs", "ray", factor)
    run = run_study(
        _study_file(bench, name, point),
        storage=bench.storage_url,
        echo=lambda line: bench.echo(f"{name} {line}"),
        cache_dir=str(bench.cache_dir) if bench.cache_dir else None,
    )
    study = optuna.load_study(study_name=name, storage=bench.storage)
    if "subject" not in study.user_attrs:  # what it measured, as run_trials records it
        study.set_user_attr("subject", profile.subject())
    if run.ran:  # finished trials cannot be updated: their provenance is a study attribute
        for number in run.ran:
            study.set_user_attr(f"provenance_{number}", bench.provenance())
        study.set_user_attr("study_wall_s", run.wall_seconds)
    run_trials(
        bench,
        study_name(profile.name, "costs", "inprocess", factor),
        trials=1,
        propose=fixed_proposal(point, target),
        job=Job(save=False),
        budget=profile.efficiency,
        attrs={"variant": "inprocess", "factor": factor},
    )


def collect_costs(bench: Bench) -> CostResult:
    """Part 4's numbers from the stored trials."""
    import optuna

    profile = bench.profile
    factor = profile.efficiency_target
    inprocess = bench.trials(study_name(profile.name, "costs", "inprocess", factor))
    ray_name = study_name(profile.name, "costs", "ray", factor)
    ray_trials = bench.trials(ray_name)
    breakdown: dict[str, float] = {}
    source = None
    if inprocess:
        attrs = inprocess[0].user_attrs
        timings = attrs.get("timings", {})
        breakdown = {
            "teacher (load or fine-tune)": float(timings.get("teacher_s", 0.0)),
            "factorization and pruning": float(timings.get("compress_s", 0.0)),
            "distillation": float(timings.get("distill_s", 0.0)),
            "evaluation (per iteration + final)": float(timings.get("evaluate_s", 0.0))
            + float(timings.get("final_evaluate_s", 0.0)),
            "latency measurement and export": float(timings.get("latency_and_save_s", 0.0)),
            "engine total": float(timings.get("total_s", 0.0)),
        }
        source = (
            str(attrs["bench_command"]),
            str(attrs["bench_machine"]),
            str(attrs["bench_date"]),
        )
    ray_trial_s = None
    study_wall_s = None
    enqueued = [t for t in ray_trials if t.user_attrs.get("enqueued")] or ray_trials
    ray_source = None
    if enqueued and enqueued[0].datetime_start and enqueued[0].datetime_complete:
        ray_trial_s = (enqueued[0].datetime_complete - enqueued[0].datetime_start).total_seconds()
        if breakdown:
            breakdown["Ray Tune + Optuna overhead"] = ray_trial_s - breakdown["engine total"]
    if ray_trials:
        attrs = optuna.load_study(study_name=ray_name, storage=bench.storage).user_attrs
        study_wall_s = attrs.get("study_wall_s")
        stored = attrs.get(f"provenance_{enqueued[0].number}")
        if isinstance(stored, dict):
            ray_source = (
                str(stored["bench_command"]),
                str(stored["bench_machine"]),
                str(stored["bench_date"]),
            )
    rows = []
    for factor_q in profile.quality_ratios:
        for variant in VARIANTS:
            trials = bench.trials(study_name(profile.name, "quality", variant, factor_q))
            if not trials:
                continue
            attrs = max(trials, key=lambda t: float(t.user_attrs["accuracy"])).user_attrs
            if "latency_ms" not in attrs or "bytes_on_disk" not in attrs:
                continue
            rows.append(
                LatencyRow(
                    factor_q,
                    variant,
                    str(attrs.get("device", "cpu")),
                    float(attrs["latency_ms"]),
                    float(attrs["latency_ms_b32"]),
                    float(attrs["teacher_latency_ms"]),
                    float(attrs["teacher_latency_ms_b32"]),
                    int(attrs["bytes_on_disk"]),
                    int(attrs["teacher_bytes_on_disk"]),
                    (
                        str(attrs["bench_command"]),
                        str(attrs["bench_machine"]),
                        str(attrs["bench_date"]),
                    ),
                )
            )
    return CostResult(breakdown, ray_trial_s, study_wall_s, tuple(rows), source, ray_source)

"""Multi-seed comparisons that can tell methods apart: mean and std, majority class, paired tests.

A :class:`Variant` is one way to get a student (a budget, ratios, optionally another trainer);
:func:`run_variants` runs each with every seed through ``compress_job`` (one shared teacher), and
:func:`render` prints a markdown table: dev and test accuracy as mean +- std over the seeds, the
majority class beside them, and for each variant against the reference (the first) the exact
McNemar p-value on the same test examples pooled over seeds (seed s of one against seed s of the
other) with the verdict "beats" / "loses to" only at p < 0.05, else "tie". A variant whose mean dev
accuracy is within one point of the majority class is reported as "did not converge" with its
per-iteration dev curve, never as a number.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ladasearch.compression.loop import Trainer
from ladasearch.compression.pipeline import compress_job
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import TrainingSettings
from ladasearch.compression.teacher import TeacherConfig
from ladasearch.stats import mcnemar_exact, verdict
from ladasearch.tasks import TaskData, TaskSpec

__all__ = [
    "Variant",
    "VariantResult",
    "load_results",
    "majority",
    "render",
    "run_variants",
    "save_results",
]

CONVERGENCE_MARGIN = 0.01
"""A run "converged" when its mean dev accuracy beats the majority class by more than this."""


@dataclass(frozen=True)
class Variant:
    """One way to produce a student, run once per seed."""

    name: str
    ratios: Ratios
    training: TrainingSettings
    trainer: Trainer | None = None


@dataclass
class VariantResult:
    """A variant's per-seed metrics (each with ``dev_predictions`` / ``test_predictions``)."""

    variant: Variant
    runs: list[dict[str, Any]] = field(default_factory=list)

    def values(self, key: str) -> list[float]:
        """``key`` of every seed's run."""
        return [float(run[key]) for run in self.runs]

    def correct(self, labels: Sequence[int], seeds: Sequence[int] | None = None) -> list[bool]:
        """Test correctness of every (seed, example), seeds in order (only ``seeds`` if given)."""
        return [
            prediction == label
            for run in self.runs
            if seeds is None or run.get("seed") in seeds
            for prediction, label in zip(run["test_predictions"], labels, strict=True)
        ]

    def seeds(self) -> list[int]:
        """The seeds this variant ran (in run order)."""
        return [int(run.get("seed", i)) for i, run in enumerate(self.runs)]

    def curve(self) -> list[float]:
        """Mean dev accuracy after each iteration (over seeds)."""
        histories = [run["history"] for run in self.runs]
        return [
            statistics.fmean(history[i]["accuracy"] for history in histories)
            for i in range(min(len(history) for history in histories))
        ]


def majority(labels: Sequence[int]) -> float:
    """Accuracy of always predicting the most frequent label."""
    return max(labels.count(label) for label in set(labels)) / len(labels)


def run_variants(
    variants: Sequence[Variant],
    *,
    model: str,
    task: TaskSpec,
    teacher_config: TeacherConfig,
    seeds: Sequence[int],
    device: str = "cpu",
    cache_dir: Path | None = None,
    on_run: Callable[[list[VariantResult]], None] | None = None,
) -> list[VariantResult]:
    """Run every variant with every seed (the teacher is shared: its seed is the config's).

    ``on_run`` is called after every run with the results so far (e.g. to save them, so a
    comparison cut short keeps the runs it finished).
    """
    results: list[VariantResult] = []
    for variant in variants:
        result = VariantResult(variant)
        results.append(result)
        for seed in seeds:
            metrics = compress_job(
                model=model,
                task=task,
                ratios=variant.ratios,
                training=variant.training,
                teacher_config=teacher_config,
                seed=seed,
                device=device,
                measure_latency=False,
                cache_dir=cache_dir,
                quiet=True,
                trainer=variant.trainer,
            )
            result.runs.append({**metrics, "seed": seed})
            if on_run is not None:
                on_run(results)
            print(
                f"  {variant.name}, seed {seed}: dev {metrics['accuracy']:.4f}, test "
                f"{metrics['test_accuracy']:.4f}, {metrics['timings']['total_s']:.0f} s",
                flush=True,
            )
    return results


def _mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.fmean(values):.2f} +- {100 * std:.2f}"


def render(
    results: Sequence[VariantResult], dev_labels: Sequence[int], test_labels: Sequence[int]
) -> str:
    """The markdown table (see the module docstring); the first result is the reference.

    ``dev_labels`` / ``test_labels`` are the task's gold labels, in the order of every run's
    ``dev_predictions`` / ``test_predictions``.
    """
    majority_dev = majority(list(dev_labels))
    majority_test = majority(list(test_labels))
    reference = results[0]
    seeds = len(reference.runs)
    lines = [
        f"{seeds} seeds; majority class: dev {100 * majority_dev:.2f}, test "
        f"{100 * majority_test:.2f}; paired test: exact McNemar on the same test examples "
        f"(pooled over seeds) against `{reference.variant.name}`",
        "",
        "| variant | ratio | dev acc (mean +- std) | test acc (mean +- std) | majority (test) "
        "| vs reference | p |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        dev = result.values("accuracy")
        if not dev:
            continue
        ratio = statistics.fmean(1 / r for r in result.values("ratio"))
        plural = "" if len(dev) == 1 else "s"
        name = (
            f"{result.variant.name} ({len(dev)} seed{plural})"
            if len(dev) != seeds
            else result.variant.name
        )
        if statistics.fmean(dev) <= majority_dev + CONVERGENCE_MARGIN:
            curve = ", ".join(f"{100 * a:.1f}" for a in result.curve())
            lines.append(
                f"| {name} | {ratio:.2f}x | did not converge (dev curve: {curve}) "
                f"| did not converge | {100 * majority_test:.2f} | - | - |"
            )
            continue
        test = result.values("test_accuracy")
        if result is reference:
            comparison, p_text = "reference", "-"
        else:
            shared = sorted(set(result.seeds()) & set(reference.seeds()))
            p_value = mcnemar_exact(
                result.correct(test_labels, shared), reference.correct(test_labels, shared)
            )
            mine, theirs = (
                statistics.fmean(sum(result.correct(test_labels, shared), 0) for _ in (0,)),
                statistics.fmean(sum(reference.correct(test_labels, shared), 0) for _ in (0,)),
            )
            comparison, p_text = verdict(mine, theirs, p_value), f"{p_value:.3g}"
        lines.append(
            f"| {name} | {ratio:.2f}x | {_mean_std(dev)} | {_mean_std(test)} "
            f"| {100 * majority_test:.2f} | {comparison} | {p_text} |"
        )
    return "\n".join(lines)


KEPT_KEYS = (
    "accuracy",
    "test_accuracy",
    "ratio",
    "teacher_accuracy",
    "teacher_test_accuracy",
    "dev_predictions",
    "test_predictions",
    "history",
    "timings",
    "seed",
)
"""The metrics of a run that a results file keeps (enough to render and to re-test)."""


def save_results(
    path: Path, results: Sequence[VariantResult], task: TaskData, meta: dict[str, Any]
) -> None:
    """Write ``results`` as JSON: every run's kept metrics, the gold labels and ``meta``."""
    document = {
        "meta": meta,
        "dev_labels": [e.label for e in task.dev],
        "test_labels": [e.label for e in task.test],
        "variants": [
            {
                "name": result.variant.name,
                "ratios": result.variant.ratios.to_dict(),
                "runs": [{k: run[k] for k in KEPT_KEYS if k in run} for run in result.runs],
            }
            for result in results
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")


def load_results(path: Path) -> tuple[list[VariantResult], list[int], list[int], dict[str, Any]]:
    """Read a file :func:`save_results` wrote: (results, dev labels, test labels, meta).

    The variants come back with their name and ratios; their budget is not stored (``meta``
    says what it was).
    """
    document = json.loads(path.read_text(encoding="utf-8"))
    results = []
    for entry in document["variants"]:
        variant = Variant(entry["name"], Ratios(**entry["ratios"]), TrainingSettings())
        results.append(VariantResult(variant, list(entry["runs"])))
    return results, document["dev_labels"], document["test_labels"], document["meta"]

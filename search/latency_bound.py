"""A latency-bounded study: ``target_latency_ms`` as a hard constraint next to the size target.

Study-file keys: ``target_latency_ms`` (a positive number of milliseconds) and ``latency_batch``
(1 or 32, default 1: the batch sizes ``compression.bench.deployed_latency`` measures). Each trial
measures its student's latency as deployed (runtime form, interleaved with the teacher, on the
trial's device): the metric ``latency_ms`` (batch 1) or ``latency_ms_b32`` (batch 32).

When the searcher tells a COMPLETE trial, it stores the violation ``latency - target`` (ms) with
Optuna's public ``Trial.set_constraint("latency_ms", value)`` (Optuna 5.1 deprecates samplers'
``constraints_func`` in its favour): a value above 0 makes the trial infeasible, which TPE,
NSGA-II and GP samplers use when sampling and ``study.best_trial(s)`` use when choosing. The
trial also gets the user attributes ``latency_violation_ms`` and, when violated, ``infeasible``
(one line), which ``ladasearch show``, ``ladasearch plot`` and the dashboard display.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ladasearch.errors import StudyFileError

__all__ = ["BATCHES", "CONSTRAINT", "UNMEASURED", "LatencyBound", "parse_latency_bound"]

BATCHES = {1: "latency_ms", 32: "latency_ms_b32"}
"""Batch size -> the trial metric holding its median latency (ms)."""

CONSTRAINT = "latency_ms"
"""The key of the Optuna constraint (``Trial.set_constraint``)."""

UNMEASURED = 1e12
"""The violation stored when a COMPLETE trial has no latency to compare (infeasible)."""


@dataclass(frozen=True)
class LatencyBound:
    """The study's latency bound: ``target_ms`` at batch ``batch`` on the trial's device."""

    target_ms: float
    batch: int = 1

    @property
    def metric(self) -> str:
        """The trial metric compared with ``target_ms``."""
        return BATCHES[self.batch]

    def violation(self, metrics: Mapping[str, Any]) -> float:
        """``latency - target_ms`` (ms; <= 0 is feasible), ``UNMEASURED`` without a latency."""
        value = metrics.get(self.metric)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return UNMEASURED
        if not math.isfinite(value):
            return UNMEASURED
        return float(value) - self.target_ms

    def reason(self, metrics: Mapping[str, Any]) -> str:
        """One line saying why a trial is infeasible."""
        value = metrics.get(self.metric)
        measured = f"{float(value):.2f}" if isinstance(value, (int, float)) else "not measured"
        return (
            f"infeasible: {self.metric} {measured} > target_latency_ms {self.target_ms:g} "
            f"(batch {self.batch})"
        )

    def constrain(self, trial: Any, metrics: Mapping[str, Any]) -> bool:
        """Store the constraint on an Optuna ``Trial`` (before it is told); True if feasible."""
        violation = self.violation(metrics)
        trial.set_user_attr("latency_violation_ms", violation)
        if violation > 0:
            trial.set_user_attr("infeasible", self.reason(metrics))
        trial.set_constraint(CONSTRAINT, violation)
        return violation <= 0


def parse_latency_bound(
    data: Mapping[str, Any], fail: Callable[[str, str], StudyFileError]
) -> LatencyBound | None:
    """``target_latency_ms`` / ``latency_batch`` of a study file's mapping (None when absent).

    ``fail(key, reason)`` builds the one-line error naming the file and the key.
    """
    target, batch = data.get("target_latency_ms"), data.get("latency_batch")
    if target is None:
        if batch is not None:
            raise fail("latency_batch", "needs target_latency_ms (the bound it applies to)")
        return None
    ok = isinstance(target, (int, float)) and not isinstance(target, bool)
    if not ok or not math.isfinite(target) or target <= 0:
        raise fail(
            "target_latency_ms", f"must be a positive number of milliseconds, got {target!r}"
        )
    if batch is None:
        batch = 1
    if isinstance(batch, bool) or batch not in BATCHES:
        raise fail(
            "latency_batch",
            f"must be one of {', '.join(map(str, BATCHES))} (the measured batch sizes), "
            f"got {batch!r}",
        )
    return LatencyBound(float(target), int(batch))

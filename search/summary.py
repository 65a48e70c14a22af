"""The numbers behind ``ladasearch studies`` and ``ladasearch show`` (computed here, printed there).

Everything is read from the study database (through :mod:`ladasearch.search.studydb`): Optuna's own columns (number, state, values) and the
user attributes the searcher and the trainable wrote (ratios, metrics, fail reasons).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from ladasearch.compression.ratios import RATIO_KEYS
from ladasearch.search.studydb.records import optuna_study, study_names
from ladasearch.stats import not_above_majority

__all__ = [
    "TRIAL_KEYS",
    "format_trials",
    "list_studies",
    "outcome_line",
    "study_trials",
]

TRIAL_KEYS = (
    "number", "state", *RATIO_KEYS, "target_ratio", "ratio", "accuracy", "params",
    "latency_ms",
)  # fmt: skip
"""The columns of ``show`` (and the keys of each ``--json`` trial)."""

_EXTRA_KEYS = (
    "test_accuracy",
    "majority_accuracy",
    "student_majority_p",
    "student_significant",
    "factorization",
    "predicted_ratio",
    "rejected_samples",
    "fail_reason",
    "infeasible",
    "model_dir",
    "model_sha256",
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def outcome_line(
    number: int,
    state: TrialState,
    values: list[float] | None,
    result: dict[str, Any],
    objectives: tuple[str, ...],
) -> str:
    """One progress line for a finished trial."""
    ratios = " ".join(
        f"{key}={result[key]:.3f}" for key in RATIO_KEYS if _number(result.get(key)) is not None
    )
    line = f"trial {number} {state.name:<8} {ratios}"
    if values is not None:
        line += " " + " ".join(
            f"{name}={value:.4g}" for name, value in zip(objectives, values, strict=False)
        )
    elif _number(result.get("accuracy")) is not None:
        line += f" accuracy={result['accuracy']:.4g} (iteration {result.get('iteration')})"
    if result.get("fail_reason"):
        line += f" ({result['fail_reason']})"
    if result.get("infeasible"):
        line += f" ({result['infeasible']})"
    return line


def _row(trial: FrozenTrial) -> dict[str, Any]:
    attrs = trial.user_attrs
    row: dict[str, Any] = {"number": trial.number, "state": trial.state.name}
    for key in TRIAL_KEYS[2:]:
        row[key] = attrs.get(key)
    for key in _EXTRA_KEYS:
        if attrs.get(key) is not None:
            row[key] = attrs[key]
    history = attrs.get("history") or []
    if row["accuracy"] is None and history:  # stopped early (PRUNED): its last iteration
        last = history[-1]
        for key in ("accuracy", "params", "ratio"):
            row[key] = last.get(key)
        row["stopped_after_iteration"] = last.get("iteration")
    last_values = attrs.get("last_values")  # stopped at an early-stopping rung (MOASHA)
    if isinstance(last_values, dict) and attrs.get("pruned_at_step") is not None:
        row["accuracy"] = last_values.get("accuracy")
        row["stopped_at_step"] = attrs["pruned_at_step"]
        row.pop("stopped_after_iteration", None)
    return row


TEACHER_KEYS = (
    "teacher_accuracy",
    "teacher_test_accuracy",
    "majority_accuracy",
    "majority_test_accuracy",
    "teacher_majority_p",
    "teacher_significant",
)
"""The study's teacher and its majority-class baseline (study user attributes)."""


def teacher_line(teacher: dict[str, Any]) -> str | None:
    """``teacher: dev 0.8359, test 0.8596; majority class: dev 0.5534, test 0.6611`` (or None)."""
    if teacher.get("teacher_accuracy") is None:
        return None
    line = f"teacher: dev {_cell(teacher['teacher_accuracy'])}, test {_cell(teacher.get('teacher_test_accuracy'))}"
    if teacher.get("majority_test_accuracy") is not None:
        line += (
            f"; majority class: dev {_cell(teacher.get('majority_accuracy'))}, "
            f"test {_cell(teacher['majority_test_accuracy'])} "
            f"(one-sided McNemar p={float(teacher['teacher_majority_p']):.2g})"
        )
    return line


def study_trials(name: str, storage: Any) -> dict[str, Any]:
    """``{"study": name, "directions": [...], "trials": [row, ...]}`` with rows keyed by TRIAL_KEYS."""
    study = optuna_study(name, storage)
    trials = [_row(trial) for trial in study.get_trials(deepcopy=False)]
    study_dir = study.user_attrs.get("study_dir")
    for row in trials:  # stored relative to the study's run folder; shown where it is now
        if study_dir and row.get("model_dir") and not os.path.isabs(row["model_dir"]):
            row["model_dir"] = os.path.join(study_dir, row["model_dir"])
    return {
        "study": name,
        "directions": [d.name.lower() for d in study.directions],
        "mode": study.user_attrs.get("mode"),
        "target": study.user_attrs.get("target"),
        "target_range": study.user_attrs.get("target_range"),
        "teacher": {key: study.user_attrs.get(key) for key in TEACHER_KEYS},
        "trials": trials,
    }


def _best(study: optuna.Study) -> dict[str, Any]:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return {"best_values": None, "best_trials": []}
    if len(study.directions) == 1:
        try:
            best = study.best_trial
        except ValueError:  # a latency-bounded study without a feasible trial
            return {"best_values": None, "best_trials": []}
        return {"best_values": best.values, "best_trials": [best.number]}
    front = study.best_trials
    return {"best_values": [t.values for t in front], "best_trials": [t.number for t in front]}


def list_studies(storage: Any) -> list[dict[str, Any]]:
    """Each study: name, directions, trial counts by state, best value(s) and trial number(s)."""
    rows = []
    for name in study_names(storage):
        study = optuna_study(name, storage)
        counts = Counter(trial.state.name for trial in study.get_trials(deepcopy=False))
        rows.append(
            {
                "study": name,
                "directions": [d.name.lower() for d in study.directions],
                "mode": study.user_attrs.get("mode"),
                "model": study.user_attrs.get("model"),
                "trials": sum(counts.values()),
                "states": dict(sorted(counts.items())),
                **_best(study),
            }
        )
    return rows


def _cell(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_trials(trials: list[dict[str, Any]]) -> list[str]:
    """The ``show`` table as lines (header first)."""
    header = (
        "#",
        "state",
        "p_embd",
        "p_svd",
        "p_weight",
        "target",
        "ratio",
        "accuracy",
        "params",
        "latency_ms",
    )
    rows = [header]
    for trial in trials:
        rows.append(
            (
                str(trial["number"]),
                trial["state"] + (" (infeasible)" if trial.get("infeasible") else ""),
                *(_cell(trial[key]) for key in (*RATIO_KEYS, "target_ratio", "ratio", "accuracy")),
                _cell(trial["params"]),
                _cell(trial["latency_ms"], 2),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    for trial in trials:
        if trial.get("fail_reason"):
            lines.append(f"trial {trial['number']}: {trial['fail_reason']}")
        elif trial.get("infeasible"):
            lines.append(f"trial {trial['number']}: {trial['infeasible']}")
        elif trial.get("stopped_at_step") is not None:
            lines.append(
                f"trial {trial['number']}: stopped early at its rung, step "
                f"{trial['stopped_at_step']} (its accuracy is the rung's; size as sampled)"
            )
        elif trial.get("stopped_after_iteration") is not None:
            lines.append(
                f"trial {trial['number']}: stopped early after iteration "
                f"{trial['stopped_after_iteration']} (its metrics are that iteration's)"
            )
        elif trial.get("student_significant") is False and None not in (
            trial.get("majority_accuracy"),
            trial.get("student_majority_p"),
        ):
            clause = not_above_majority(trial["majority_accuracy"], trial["student_majority_p"])
            lines.append(
                f"trial {trial['number']}: on dev, {clause}: it learned little at these ratios"
            )
    return lines

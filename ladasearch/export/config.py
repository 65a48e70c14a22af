"""What an export's configuration holds: the trial's ratios, every matrix's rank and sparsity
measured on the model, the study's settings, the metrics and package versions (pure data)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

from ladasearch.compression.ratios import RATIO_KEYS
from ladasearch.search.study_settings import stored_settings, trial_settings_of
from ladasearch.search.studydb.records import StudyRecord, TrialRecord

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "CONFIG_STEM",
    "METRIC_KEYS",
    "build_config",
    "matrix_layout",
    "package_versions",
]

CONFIG_STEM = "ladasearch-config"
PACKAGES = ("ladasearch", "torch", "transformers", "optuna", "ray", "optuna-dashboard", "plotly")

# ---------------------------------------------------------------------------------------------
# what goes into the configuration


def matrix_layout(model: nn.Module) -> list[dict[str, Any]]:
    """Rank and sparsity of every compressed matrix of ``model``, measured on its layers.

    One entry per compressed layer (:func:`~ladasearch.compression.kinds.compressed_layers`):
    ``name``, ``kind`` (``factorized``, ``masked`` or ``factorized_embedding``),
    ``shape`` (dense m x n), ``rank`` (``None`` for a dense matrix), ``nonzero`` (weights kept),
    ``stored`` (entries of the stored factors), ``sparsity`` (pruned share of the stored entries)
    and ``density`` (nonzero / (m * n), the matrix's own compression ratio).
    """
    from ladasearch.compression.kinds import compressed_layers

    layout: list[dict[str, Any]] = []
    for name, module, kind in compressed_layers(model):
        vocab, dim = kind.shape(module)
        nonzero, stored = kind.counts(module)
        entry: dict[str, Any] = {"kind": kind.name, "shape": [vocab, dim], "rank": kind.rank(module)}
        entry.update(
            name=name,
            nonzero=nonzero,
            stored=stored,
            sparsity=round(1.0 - nonzero / stored, 6) if stored else 0.0,
            density=round(nonzero / (vocab * dim), 6),
        )
        layout.append({"name": name, **{k: v for k, v in entry.items() if k != "name"}})
    return layout


def package_versions() -> dict[str, str]:
    """Installed versions of the packages an exported model depends on."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _clean(value: Any) -> Any:
    """JSON/YAML-safe: NaN and infinities become ``None``, tuples become lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


METRIC_KEYS = (
    "accuracy",
    "test_accuracy",
    "f1",
    "test_f1",
    "params",
    "teacher_params",
    "ratio",
    "target_ratio",
    "retained",
    "latency_ms",
    "latency_ms_b32",
    "teacher_latency_ms",
    "bytes_on_disk",
    "teacher_accuracy",
    "teacher_test_accuracy",
    "majority_accuracy",
    "majority_test_accuracy",
    "student_majority_p",  # dev: the card's warning when the trial has no test check
    "student_significant",
    "student_test_majority_p",
    "student_test_significant",
)


def build_config(
    study: StudyRecord,
    trial: TrialRecord,
    layout: list[dict[str, Any]],
    metrics: Mapping[str, Any] | None = None,
    retrained: bool = False,
) -> dict[str, Any]:
    """The exported configuration (one dict, written as YAML and as JSON)."""
    stored = stored_settings(study)
    settings = stored.raw
    values = dict(trial.user_attrs)
    values.update(metrics or {})
    teacher = {
        "accuracy": study.teacher_accuracy,
        "test_accuracy": study.teacher_test_accuracy,
        "params": study.teacher_params,
        "latency_ms": study.teacher_latency_ms,
    }
    config = {
        "ratios": {key: trial.ratio(key) for key in RATIO_KEYS},
        "model": study.user_attrs.get("model", settings.get("model")),
        "task": study.user_attrs.get("task", settings.get("task")),
        "schedule": {
            "trial": dataclasses.asdict(trial_settings_of(values, stored.trial)),
            "teacher": dataclasses.asdict(stored.teacher),
            "seed": stored.seed,
            "mode": study.user_attrs.get("mode", settings.get("mode")),
            "objectives": study.user_attrs.get("objectives", settings.get("objectives")),
        },
        "matrices": layout,
        "metrics": {key: values[key] for key in METRIC_KEYS if key in values},
        "teacher": teacher,
        "source": {
            "study": study.name,
            "trial_number": trial.number,
            "trial_id": trial.trial_id,
            "state": trial.state,
            "model_sha256": trial.user_attrs.get("model_sha256"),
            "retrained": retrained,
            "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        },
        "versions": package_versions(),
    }
    return _clean(config)


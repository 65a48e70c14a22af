"""Export one trial: its configuration (YAML + JSON), its compressed model and a model card.

The folder written by :func:`export_trial` holds the compressed model as ``save_compressed``
writes it (so ``ladasearch.load(DIR)`` and ``ladasearch predict DIR`` run it), plus

- ``ladasearch-config.yaml`` / ``ladasearch-config.json`` (not ``config.json``: that name is the
  Hugging Face model config ``save_compressed`` writes; see :data:`CONFIG_STEM`): the three ratios,
  rank and sparsity of every compressed matrix, the schedule, the metrics, study and trial ids,
  package versions;
- ``README.md``: the model card, metrics against the teacher and how to load the model.

The model is read from the trial's ``model_dir`` (relative to the study's run folder) after its
``model_sha256`` is checked and written in its runtime form (``export_runtime``: transformers
remote code, or ``--dense``; optionally ONNX). When the trial's model is gone, export says so in
one line; it retrains from the configuration with ``compress_job`` only when asked (``--retrain``).
Everything is written to a staging folder and swapped into place (``export_folder``), so a
failure leaves no half-written export behind and ``--force`` replaces only an earlier export.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ladasearch.dashboards.export_select import NothingQualifies, select_trial
from ladasearch.dashboards.export_source import (
    Retrainer,
    kept_model_dir,
    missing_model_message,
    retrain_trial,
)
from ladasearch.errors import LadaError
from ladasearch.search.studydb.records import StudyRecord, TrialRecord

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "CONFIG_STEM",
    "RETRAINED_NOTE",
    "ExportOptions",
    "ExportResult",
    "NothingQualifies",
    "build_config",
    "export_trial",
    "matrix_layout",
    "missing_model_message",
    "model_card",
    "package_versions",
    "retrain_trial",
    "select_trial",
    "study_settings",
]

CONFIG_STEM = "ladasearch-config"
RETRAINED_NOTE = "retrained from the configuration (the trial's model was not kept)"
PACKAGES = ("ladasearch", "torch", "transformers", "optuna", "ray", "optuna-dashboard", "plotly")


# ---------------------------------------------------------------------------------------------
# what goes into the configuration


def matrix_layout(model: nn.Module) -> list[dict[str, Any]]:
    """Rank and sparsity of every compressed matrix of ``model``, measured on its layers.

    One entry per factorized embedding, factorized linear or masked linear: ``name``, ``kind``,
    ``shape`` (dense m x n), ``rank`` (``None`` for a dense matrix), ``nonzero`` (weights kept),
    ``stored`` (entries of the stored factors), ``sparsity`` (pruned share of the stored entries)
    and ``density`` (nonzero / (m * n), the matrix's own compression ratio).
    """
    from ladasearch.compression.layers import FactorizedEmbedding, FactorizedLinear, MaskedLinear

    layout: list[dict[str, Any]] = []
    for name, module in model.named_modules():
        if isinstance(module, FactorizedEmbedding):
            vocab, dim = int(module.num_embeddings), int(module.embedding_dim)
            nonzero = stored = int(module.nonzero_count())
            entry = {"kind": "factorized_embedding", "shape": [vocab, dim], "rank": module.rank}
        elif isinstance(module, FactorizedLinear | MaskedLinear):
            vocab, dim = int(module.out_features), int(module.in_features)
            nonzero = int(module.nonzero_count(include_bias=False))
            stored = int(module.stored_count())
            kind = "factorized_linear" if isinstance(module, FactorizedLinear) else "masked_linear"
            rank = module.rank if isinstance(module, FactorizedLinear) else None
            entry = {"kind": kind, "shape": [vocab, dim], "rank": rank}
        else:
            continue
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


def study_settings(study: StudyRecord) -> dict[str, Any]:
    """The study file's settings stored on the study, as a plain dict.

    The search stores them as ``settings`` (``StudyFile.to_dict()``) and the file's text as
    ``study_file``; either is used, the dict first.
    """
    for key in ("settings", "study_file"):
        stored = study.user_attrs.get(key)
        if isinstance(stored, Mapping):
            return dict(stored)
        if isinstance(stored, str) and stored.strip():
            try:
                parsed = yaml.safe_load(stored)
            except yaml.YAMLError:
                continue
            if isinstance(parsed, Mapping):
                return dict(parsed)
    return {}


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
    "majority_test_accuracy",
)


def build_config(
    study: StudyRecord,
    trial: TrialRecord,
    layout: list[dict[str, Any]],
    metrics: Mapping[str, Any] | None = None,
    retrained: bool = False,
) -> dict[str, Any]:
    """The exported configuration (one dict, written as YAML and as JSON)."""
    settings = study_settings(study)
    values = dict(trial.user_attrs)
    values.update(metrics or {})
    teacher = {
        "accuracy": study.teacher_accuracy,
        "test_accuracy": study.teacher_test_accuracy,
        "params": study.teacher_params,
        "latency_ms": study.teacher_latency_ms,
    }
    config = {
        "ratios": {key: trial.ratio(key) for key in ("p_embd", "p_svd", "p_weight")},
        "model": study.user_attrs.get("model", settings.get("model")),
        "task": study.user_attrs.get("task", settings.get("task")),
        "schedule": {
            "trial": settings.get("trial", {}),
            "teacher": settings.get("teacher", {}),
            "seed": settings.get("seed"),
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


# ---------------------------------------------------------------------------------------------
# the model card


def _fmt(value: Any, kind: str = "float") -> str:
    if value is None:
        return "–"
    if kind == "count":
        return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{int(value):,}"
    if kind == "ms":
        return f"{value:.1f} ms"
    return f"{value:.4f}"


def model_card(config: Mapping[str, Any], folder_name: str = "DIR") -> str:
    """The README.md of an export: what it is, its metrics against the teacher, how to load it."""
    metrics, teacher, source = config["metrics"], config["teacher"], config["source"]
    ratios = config["ratios"]
    params, teacher_params = metrics.get("params"), teacher.get("params")
    factor = f"{teacher_params / params:.1f}x" if params and teacher_params else "?"
    rows = [
        ("dev accuracy", _fmt(teacher.get("accuracy")), _fmt(metrics.get("accuracy"))),
        ("test accuracy", _fmt(teacher.get("test_accuracy")), _fmt(metrics.get("test_accuracy"))),
        ("majority class, test", *[_fmt(metrics.get("majority_test_accuracy"))] * 2),
        (
            "nonzero parameters",
            _fmt(teacher_params, "count"),
            f"{_fmt(params, 'count')} ({factor} smaller)",
        ),
        (
            "latency, batch 1",
            _fmt(teacher.get("latency_ms"), "ms"),
            _fmt(metrics.get("latency_ms"), "ms"),
        ),
    ]
    if metrics.get("latency_ms_b32") is not None:
        rows.append(("latency, batch 32", "–", _fmt(metrics["latency_ms_b32"], "ms")))
    table = ["| | teacher | this model |", "| --- | --- | --- |"]
    table += [f"| {name} | {a} | {b} |" for name, a, b in rows]
    task = config.get("task")
    task_name = task.get("name") if isinstance(task, Mapping) else task
    schedule = config["schedule"].get("trial") or {}
    schedule_text = ", ".join(f"{k} {v}" for k, v in schedule.items()) or "see the config file"
    retrained = (
        f"\n> This model was {RETRAINED_NOTE}; the metrics above are the retrained model's.\n"
        if source.get("retrained")
        else ""
    )
    layout = config.get("matrices") or []
    ranks = sorted({m["rank"] for m in layout if m.get("rank") is not None})
    versions = ", ".join(f"{k} {v}" for k, v in config["versions"].items())
    return f"""# LadaBERT-compressed {config.get("model")} for {task_name}

Trial {source["trial_number"]} of the ladasearch study `{source["study"]}`: the model compressed
{factor} (P_embd {ratios["p_embd"]:.4f}, P_svd {ratios["p_svd"]:.4f}, P_weight {ratios["p_weight"]:.4f})
by SVD factorization, magnitude pruning and knowledge distillation (LadaBERT).
{retrained}
## Metrics

{chr(10).join(table)}

## Compression

- ratios: P_embd {ratios["p_embd"]:.4f}, P_svd {ratios["p_svd"]:.4f}, P_weight {ratios["p_weight"]:.4f}
- {len(layout)} compressed matrices; ranks used: {", ".join(map(str, ranks)) or "none (dense)"}
  (every matrix's rank and sparsity are in `{CONFIG_STEM}.yaml`)
- schedule: {schedule_text}

## Use it

```python
import ladasearch

classifier = ladasearch.load("{folder_name}")
print(classifier.predict(["a gripping, beautifully acted film"]))
```

```bash
ladasearch predict {folder_name} --text "a gripping, beautifully acted film"
```

## Provenance

- study `{source["study"]}`, trial number {source["trial_number"]} (id {source["trial_id"]})
- exported {source["exported_at"]}
- {versions}
"""


# ---------------------------------------------------------------------------------------------
# writing the folder


@dataclass(frozen=True)
class ExportOptions:
    """How the model is written: ``dense`` (a stock architecture, factors multiplied back, no
    size saving) or the runtime folder with forms ``measure``d per layer; ``onnx`` adds
    ``model.onnx``, ``quantize="int8"`` also ``model.int8.onnx``."""

    dense: bool = False
    onnx: bool = False
    quantize: str | None = None
    measure: bool = True

    def __post_init__(self) -> None:
        if self.quantize not in (None, "int8"):
            raise LadaError(f"--quantize must be int8, got {self.quantize!r}")
        if self.quantize and not self.onnx:
            raise LadaError("--quantize int8 quantizes the ONNX file: pass --onnx too")


@dataclass
class ExportResult:
    """What :func:`export_trial` wrote."""

    out_dir: Path
    trial: TrialRecord
    config: dict[str, Any]
    retrained: bool
    files: list[Path] = field(default_factory=list)


def export_trial(
    study: StudyRecord,
    trial: TrialRecord,
    out_dir: Path,
    *,
    force: bool = False,
    retrain: Retrainer | None = None,
    allow_retrain: bool = False,
    device: str = "cpu",
    options: ExportOptions | None = None,
) -> ExportResult:
    """Write ``trial``'s model, configuration and card to ``out_dir`` (see the module and
    :mod:`ladasearch.dashboards.export_folder` for the folder's safety rules).

    When the trial's saved model is not there this raises a one-line ``LadaError`` unless
    ``allow_retrain``; then ``retrain(study, trial, folder)`` (default :func:`retrain_trial`)
    saves a freshly trained model into ``folder`` and returns its metrics.
    """
    from ladasearch.compression.serialize import load_compressed
    from ladasearch.dashboards.export_folder import check_out_dir, staged_folder, write_manifest
    from ladasearch.dashboards.export_runtime import runtime_section, write_model

    options = options or ExportOptions()
    check_out_dir(out_dir, force)
    kept = kept_model_dir(study, trial)
    if kept is None and not allow_retrain:
        raise LadaError(missing_model_message(study, trial))
    with staged_folder(out_dir) as staging:
        metrics: Mapping[str, Any] = {}
        source = kept
        if source is None:
            source = staging / ".retrained"
            metrics = (retrain or retrain_trial)(study, trial, source)
        model, tokenizer, meta = load_compressed(source, device)
        layout = matrix_layout(model)
        runtime = write_model(model, tokenizer, meta, staging, options)
        del model
        if source.parent == staging:
            shutil.rmtree(source)
        config = build_config(study, trial, layout, metrics=metrics, retrained=kept is None)
        config["runtime"] = runtime
        config_text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
        (staging / f"{CONFIG_STEM}.yaml").write_text(config_text, encoding="utf-8")
        (staging / f"{CONFIG_STEM}.json").write_text(
            json.dumps(config, indent=2) + "\n", encoding="utf-8"
        )
        card = model_card(config, str(out_dir)) + runtime_section(runtime, str(out_dir))
        (staging / "README.md").write_text(card, encoding="utf-8")
        write_manifest(staging, {"study": study.name, "trial_number": trial.number})
    files = sorted(p for p in out_dir.rglob("*") if p.is_file())
    return ExportResult(
        out_dir=out_dir, trial=trial, config=config, retrained=kept is None, files=files
    )

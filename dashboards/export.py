"""Export one trial: its configuration (YAML + JSON), its compressed model and a model card.

The folder written by :func:`export_trial` holds the compressed model as ``save_compressed``
writes it (so ``ladasearch.load(DIR)`` and ``ladasearch predict DIR`` run it), plus

- ``ladasearch-config.yaml`` / ``ladasearch-config.json`` (not ``config.json``: that name is the
  Hugging Face model config ``save_compressed`` writes; see :data:`CONFIG_STEM`): the three ratios,
  rank and sparsity of every compressed matrix, the schedule, the metrics, study and trial ids,
  package versions;
- ``README.md``: the model card, metrics against the teacher and how to load the model.

The model is copied from the trial's ``model_dir`` after its ``model_sha256`` is checked; when
the trial's model was not kept, it is retrained from the configuration with ``compress_job``.
Everything is written to a staging folder first and moved into place at the end, so a failure
leaves no half-written export behind.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ladasearch.dashboards.studies import StudyRecord, TrialRecord
from ladasearch.errors import LadaError

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "CONFIG_STEM",
    "RETRAINED_NOTE",
    "ExportResult",
    "NothingQualifies",
    "build_config",
    "export_trial",
    "matrix_layout",
    "model_card",
    "package_versions",
    "retrain_trial",
    "select_trial",
    "study_settings",
]

CONFIG_STEM = "ladasearch-config"
RETRAINED_NOTE = "retrained from the configuration (the trial's model was not kept)"
PACKAGES = ("ladasearch", "torch", "transformers", "optuna", "ray", "optuna-dashboard", "plotly")


class NothingQualifies(LadaError):
    """No finished trial meets the export constraints (nothing is written)."""


# ---------------------------------------------------------------------------------------------
# choosing the trial (pure)


def _describe(min_accuracy: float | None, max_params: float | None) -> str:
    parts = []
    if max_params is not None:
        parts.append(f"params <= {max_params:,.0f}")
    if min_accuracy is not None:
        parts.append(f"accuracy >= {min_accuracy:g}")
    return " and ".join(parts) if parts else "no constraint"


def select_trial(
    study: StudyRecord,
    *,
    number: int | None = None,
    min_accuracy: float | None = None,
    max_params: float | None = None,
) -> TrialRecord:
    """The trial to export.

    With ``number``: that trial, which must be finished and meet the constraints given.
    Without it (``--best``): among finished (COMPLETE, with metrics, not failed) trials meeting
    ``max_params`` and ``min_accuracy``, the most accurate one (fewer params break ties); when
    only ``min_accuracy`` is given, the smallest one (higher accuracy breaks ties).
    Raises :class:`NothingQualifies` (or ``StorageError`` for a missing trial number).
    """

    def meets(trial: TrialRecord) -> bool:
        accuracy, params = trial.accuracy, trial.nonzero_params
        if accuracy is None or params is None:
            return False
        if max_params is not None and params > max_params:
            return False
        return min_accuracy is None or accuracy >= min_accuracy

    if number is not None:
        trial = study.trial(number)
        if not trial.finished:
            why = f": {trial.fail_reason}" if trial.fail_reason else ""
            raise NothingQualifies(
                f"trial {number} of study {study.name!r} is {trial.state}{why}; "
                "only finished trials with metrics can be exported"
            )
        if not meets(trial):
            raise NothingQualifies(
                f"trial {number} of study {study.name!r} does not meet "
                f"{_describe(min_accuracy, max_params)}; nothing exported"
            )
        return trial
    finished = [t for t in study.trials if t.finished]
    if not finished:
        raise NothingQualifies(f"study {study.name!r} has no finished trial; nothing exported")
    candidates = [t for t in finished if meets(t)]
    if not candidates:
        raise NothingQualifies(
            f"no finished trial of study {study.name!r} has {_describe(min_accuracy, max_params)} "
            f"({len(finished)} finished); nothing exported"
        )

    def most_accurate(t: TrialRecord) -> tuple[float, float, int]:
        return (-(t.accuracy or 0.0), t.nonzero_params or 0.0, t.number)

    def smallest(t: TrialRecord) -> tuple[float, float, int]:
        return (t.nonzero_params or 0.0, -(t.accuracy or 0.0), t.number)

    key = smallest if (min_accuracy is not None and max_params is None) else most_accurate
    return min(candidates, key=key)


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
# retraining a trial whose model was not kept


def _fields(cls: Any, values: Any) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names} if isinstance(values, Mapping) else {}


def retrain_trial(
    study: StudyRecord, trial: TrialRecord, folder: Path, device: str = "auto"
) -> dict[str, Any]:
    """Run ``compress_job`` again with the trial's ratios and study settings; save to ``folder``.

    The settings are those the search stored on the study (``study_file``: trial schedule,
    teacher budget, seed), so the teacher comes from the same cache entry as the search's.
    """
    from ladasearch.compression.budget import Ratios
    from ladasearch.compression.pipeline import TrainBudget, compress_job
    from ladasearch.compression.teacher import TeacherConfig
    from ladasearch.search.study_file import TeacherSettings, TrialSettings
    from ladasearch.tasks import TaskSpec

    settings = study_settings(study)
    schedule = TrialSettings(**_fields(TrialSettings, settings.get("trial")))
    teacher = TeacherSettings(**_fields(TeacherSettings, settings.get("teacher")))
    seed = int(settings.get("seed") or 0)
    task_attr = study.user_attrs.get("task", settings.get("task", "rt"))
    task = (
        TaskSpec(**_fields(TaskSpec, task_attr))
        if isinstance(task_attr, Mapping)
        else TaskSpec(name=str(task_attr), seed=seed)
    )
    values = [trial.ratio(key) for key in ("p_embd", "p_svd", "p_weight")]
    if any(v is None for v in values):
        raise LadaError(
            f"trial {trial.number} records no p_embd / p_svd / p_weight: cannot retrain it"
        )
    p_embd, p_svd, p_weight = (float(v or 0.0) for v in values)
    return compress_job(
        model=str(study.user_attrs.get("model") or settings.get("model") or "minilm"),
        task=task,
        ratios=Ratios(p_embd, p_svd, p_weight),
        budget=TrainBudget(
            iterations=schedule.iterations,
            steps=schedule.steps,
            batch_size=schedule.batch_size,
            learning_rate=schedule.learning_rate,
            max_length=schedule.max_length,
            temperature=schedule.temperature,
        ),
        teacher_config=TeacherConfig(
            steps=teacher.steps,
            batch_size=teacher.batch_size,
            learning_rate=teacher.learning_rate,
            max_length=schedule.max_length,
            seed=teacher.seed_for(seed),
        ),
        seed=seed,
        device=device,
        out_dir=folder,
    )


# ---------------------------------------------------------------------------------------------
# writing the folder


@dataclass
class ExportResult:
    """What :func:`export_trial` wrote."""

    out_dir: Path
    trial: TrialRecord
    config: dict[str, Any]
    retrained: bool
    files: list[Path] = field(default_factory=list)


def check_out_dir(out_dir: Path, force: bool) -> None:
    """Refuse a non-empty ``out_dir`` unless ``force`` (a file in its place is always refused)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise LadaError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise LadaError(
            f"{out_dir} is not empty: pass --force to overwrite it, or choose another -o DIR"
        )


def _kept_model_dir(trial: TrialRecord) -> Path | None:
    """The trial's saved model folder, when it is still there and its digest matches."""
    from ladasearch.compression.evaluate import file_sha256
    from ladasearch.compression.serialize import WEIGHTS_FILE

    raw = trial.user_attrs.get("model_dir")
    if not raw:
        return None
    folder = Path(str(raw))
    if not (folder / WEIGHTS_FILE).is_file():
        return None
    expected = trial.user_attrs.get("model_sha256")
    if expected and file_sha256(folder / WEIGHTS_FILE) != expected:
        raise LadaError(
            f"the saved model of trial {trial.number} ({folder}) does not match its recorded "
            "sha256: it was changed after the trial; re-run the trial or export another one"
        )
    return folder


Retrainer = Callable[[StudyRecord, TrialRecord, Path], Mapping[str, Any]]


def export_trial(
    study: StudyRecord,
    trial: TrialRecord,
    out_dir: Path,
    *,
    force: bool = False,
    retrain: Retrainer | None = None,
    device: str = "cpu",
) -> ExportResult:
    """Write ``trial``'s model, configuration and card to ``out_dir``.

    ``retrain(study, trial, folder)`` saves a freshly trained model into ``folder`` and returns
    its metrics; it is called only when the trial's model was not kept (default:
    :func:`retrain_trial`).
    """
    from ladasearch.compression.serialize import load_compressed

    check_out_dir(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        kept = _kept_model_dir(trial)
        metrics: Mapping[str, Any] = {}
        if kept is not None:
            shutil.copytree(kept, staging, dirs_exist_ok=True)
        else:
            metrics = (retrain or retrain_trial)(study, trial, staging)
        model, _tokenizer, _meta = load_compressed(staging, device)
        layout = matrix_layout(model)
        del model
        config = build_config(study, trial, layout, metrics=metrics, retrained=kept is None)
        config_text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
        (staging / f"{CONFIG_STEM}.yaml").write_text(config_text, encoding="utf-8")
        (staging / f"{CONFIG_STEM}.json").write_text(
            json.dumps(config, indent=2) + "\n", encoding="utf-8"
        )
        (staging / "README.md").write_text(model_card(config, str(out_dir)), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(p for p in out_dir.rglob("*") if p.is_file())
    return ExportResult(
        out_dir=out_dir, trial=trial, config=config, retrained=kept is None, files=files
    )

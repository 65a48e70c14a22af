"""Where an exported trial's model comes from: its saved folder, or a retraining when asked.

A trial's ``model_dir`` is stored relative to the study's run folder (``study_dir`` on the
study), so a moved ``runs/`` folder still resolves; its ``model_sha256`` is checked before use.
When the folder is gone, :func:`missing_model_message` is the one line export says;
:func:`retrain_trial` runs ``compress_job`` again only when the user asks (``--retrain``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ladasearch.errors import LadaError
from ladasearch.search.studydb.records import StudyRecord, TrialRecord

__all__ = ["Retrainer", "kept_model_dir", "missing_model_message", "model_dir", "retrain_trial"]


def model_dir(study: StudyRecord, trial: TrialRecord) -> Path | None:
    """Where the trial's saved model should be: a relative ``model_dir`` is resolved against the
    study's run folder (``study_dir``; else ``<runs_dir>/<study>`` from the working folder)."""
    raw = trial.user_attrs.get("model_dir")
    if not raw:
        return None
    folder = Path(str(raw))
    if folder.is_absolute():
        return folder
    base = study.user_attrs.get("study_dir")
    if not base:
        from ladasearch.export.config import study_settings

        runs = study_settings(study).get("runs_dir") or "runs"
        base = str(Path(str(runs)) / study.name)
    return Path(str(base)) / folder


def kept_model_dir(study: StudyRecord, trial: TrialRecord) -> Path | None:
    """The trial's saved model folder, when it is still there and its digest matches."""
    from ladasearch.compression.evaluate import file_sha256
    from ladasearch.compression.serialize import WEIGHTS_FILE

    folder = model_dir(study, trial)
    if folder is None or not (folder / WEIGHTS_FILE).is_file():
        return None
    expected = trial.user_attrs.get("model_sha256")
    if expected and file_sha256(folder / WEIGHTS_FILE) != expected:
        raise LadaError(
            f"the saved model of trial {trial.number} ({folder}) does not match its recorded "
            "sha256: it was changed after the trial; re-run the trial or export another one"
        )
    return folder


def missing_model_message(study: StudyRecord, trial: TrialRecord) -> str:
    """The one line said when the trial's saved model is not there."""
    folder = model_dir(study, trial)
    where = f"is gone ({folder})" if folder is not None else "was not kept (keep_models: false)"
    return (
        f"the saved model of trial {trial.number} {where}: pass --retrain to retrain it from "
        "its configuration, or export another trial"
    )


Retrainer = Callable[[StudyRecord, TrialRecord, Path], Mapping[str, Any]]


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
    from ladasearch.compression.pipeline import TrainingSettings, compress_job
    from ladasearch.compression.teacher import TeacherConfig
    from ladasearch.export.config import study_settings
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
    ratios = trial.ratios()
    if ratios is None:
        raise LadaError(
            f"trial {trial.number} records no p_embd / p_svd / p_weight: cannot retrain it"
        )
    return compress_job(
        model=str(study.user_attrs.get("model") or settings.get("model") or "minilm"),
        task=task,
        ratios=ratios,
        training=TrainingSettings(
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

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
        from ladasearch.search.study_settings import stored_settings

        base = str(Path(stored_settings(study).runs_dir) / study.name)
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

    The settings are those the search stored on the study (validated as a study file is: the
    whole ``trial:`` section, the teacher's settings, the seed), so the teacher comes from the same cache entry as the search's.
    """
    from ladasearch.compression.pipeline import compress_job
    from ladasearch.search.study_settings import stored_settings
    from ladasearch.tasks import TaskSpec

    settings = stored_settings(study)
    task = (
        TaskSpec(**_fields(TaskSpec, settings.task))
        if isinstance(settings.task, Mapping)
        else TaskSpec(name=str(settings.task), seed=settings.seed)
    )
    ratios = trial.ratios()
    if ratios is None:
        raise LadaError(
            f"trial {trial.number} records no p_embd / p_svd / p_weight: cannot retrain it"
        )
    return compress_job(
        model=settings.model,
        task=task,
        ratios=ratios,
        training=settings.training({**trial.params, **trial.user_attrs}),
        teacher_config=settings.teacher_config(),
        seed=settings.seed,
        device=device,
        out_dir=folder,
    )

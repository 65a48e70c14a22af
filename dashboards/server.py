"""optuna-dashboard on the study database, with our Pareto figure registered in every study.

optuna-dashboard 0.21 shows any Plotly figure saved with
``optuna_dashboard.save_plotly_graph_object(study, figure, graph_object_id=...)`` on the study's
page (it is stored in the study's system attributes, split in chunks). We save ours under the id
:data:`FIGURE_ID`, overwriting the previous one, so re-registering after more trials refreshes it.

Artifacts (exported model cards) live in a file-system artifact store; for a SQLite database the
default folder is ``<database>.artifacts`` beside the file, so ``export`` and ``dashboard`` agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ladasearch.dashboards.figures import figure_for_studies
from ladasearch.search.studydb.connect import open_storage
from ladasearch.search.studydb.records import list_study_names, load_study, optuna_study
from ladasearch.search.studydb.urls import resolve_storage_url, sqlite_path

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

__all__ = ["FIGURE_ID", "default_artifact_dir", "register_figures", "serve"]

FIGURE_ID = "ladasearch-pareto"


def default_artifact_dir(storage_url: str | None) -> Path | None:
    """``<file>.artifacts`` beside a SQLite database; ``None`` for server databases."""
    path = sqlite_path(resolve_storage_url(storage_url))
    return path.with_name(path.name + ".artifacts") if path is not None else None


def register_figures(storage: BaseStorage, names: Sequence[str] | None = None) -> list[str]:
    """Save our Pareto figure into each study (all of them by default); return their names."""
    from optuna_dashboard import save_plotly_graph_object

    registered = []
    for name in names if names is not None else list_study_names(storage):
        record = load_study(name, storage)
        if not any(t.finished for t in record.trials):
            continue  # nothing to draw yet
        figure = figure_for_studies([record], title=f"Pareto front: {name}")
        study = optuna_study(name, storage)
        save_plotly_graph_object(study, figure, graph_object_id=FIGURE_ID)
        registered.append(name)
    return registered


def serve(
    storage_url: str | None,
    host: str = "127.0.0.1",
    port: int = 8080,
    artifact_dir: Path | None = None,
) -> None:
    """Block serving optuna-dashboard on ``storage_url`` (figures must be registered first)."""
    from optuna.artifacts import FileSystemArtifactStore
    from optuna_dashboard import run_server

    storage = open_storage(storage_url, existing=True)
    store = None
    if artifact_dir is not None:
        artifact_dir.mkdir(parents=True, exist_ok=True)
        store = FileSystemArtifactStore(str(artifact_dir))
    run_server(storage, host=host, port=port, artifact_store=store)

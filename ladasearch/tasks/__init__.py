"""Tasks: a :class:`TaskSpec` names one, :func:`load_task` loads it as :class:`TaskData`.

Accepted names: ``rt`` (offline Rotten Tomatoes), ``glue/<config>`` (sst2, mnli, qqp, qnli, mrpc,
rte, cola, wnli; from the hub), ``csv:PATH`` and ``jsonl:PATH`` (the user's own files).
:mod:`ladasearch.tasks.batching` tokenizes examples and batches them with dynamic padding.
"""

from __future__ import annotations

from ladasearch.errors import DataError
from ladasearch.tasks._base import Example, TaskData, TaskSpec
from ladasearch.tasks.batching import EncodedSplit, encode, fixed_length_batch, make_loader
from ladasearch.tasks.files import load_file_task
from ladasearch.tasks.glue import GLUE_COLUMNS, load_glue
from ladasearch.tasks.rt import load_rt

__all__ = [
    "TASK_FORMS",
    "EncodedSplit",
    "Example",
    "TaskData",
    "TaskSpec",
    "encode",
    "fixed_length_batch",
    "load_task",
    "make_loader",
]

TASK_FORMS = "rt, glue/<" + "|".join(GLUE_COLUMNS) + ">, csv:PATH, jsonl:PATH"


def load_task(spec: TaskSpec) -> TaskData:
    """Load the task ``spec.name`` names; DataError for an unknown name or bad data."""
    name = spec.name.strip()
    if name == "rt":
        return load_rt()
    if name.startswith("glue/"):
        return load_glue(name.removeprefix("glue/"), seed=spec.seed)
    if name.startswith(("csv:", "jsonl:")):
        return load_file_task(spec)
    raise DataError(f"unknown task {spec.name!r}: accepted forms are {TASK_FORMS}")

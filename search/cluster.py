"""The Ray side of a search: start or join Ray, check the trial resources fit, the teacher task.

A local Ray (``ray.init``) is watched by a :class:`~ladasearch.search.procs.Reaper`, so that
a search killed with ``kill -9`` leaves no Ray process behind. A trial that asks for more CPUs or
GPUs than any node has would wait forever in Tune's queue: :func:`check_resources` refuses it in
one line, before the study is touched.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ladasearch.errors import LadaError
from ladasearch.search.procs import Reaper
from ladasearch.search.study_sections import Resources
from ladasearch.search.trainable import TrialContext, one_line, teacher_config

__all__ = ["NUM_GPUS_ENV", "check_resources", "local_resources", "prepare_teacher", "start_ray"]

NUM_GPUS_ENV = "LADASEARCH_RAY_NUM_GPUS"
"""GPUs to declare to a local Ray (default: detected); ``1`` exercises GPU scheduling on a CPU."""


def local_resources() -> dict[str, float]:
    """What a local Ray gets on this machine: its CPUs and its GPUs (or ``NUM_GPUS_ENV``)."""
    gpus = os.environ.get(NUM_GPUS_ENV)
    if gpus is None:
        try:
            import torch

            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        except Exception:
            count = 0
    else:
        count = int(gpus)
    return {"CPU": float(os.cpu_count() or 1), "GPU": float(count)}


def check_resources(resources: Resources, nodes: list[dict[str, float]], where: str) -> None:
    """Refuse (one line) a per-trial request no single node of ``nodes`` can meet."""
    for key, field, asked in (("CPU", "cpu", resources.cpu), ("GPU", "gpu", resources.gpu)):
        largest = max((float(node.get(key, 0.0)) for node in nodes), default=0.0)
        if asked > largest:
            raise LadaError(
                f"resources.{field}: {asked:g} per trial, but the largest node of {where} has "
                f"{largest:g} {key}s: no trial could ever start; lower resources.{field}"
            )


def _environment() -> None:
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ["LADASEARCH_QUIET"] = "1"  # no progress bars inside Ray workers
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # with verbose=0: no experiment tables
    os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"  # failure reports carry no metrics


def start_ray(address: str | None, resources: Resources, run_dir: Path) -> Reaper | None:
    """Join the cluster at ``address``, or start a local Ray watched by a reaper (returned).

    Checks the per-trial ``resources`` against the cluster's nodes (one line, before anything
    runs). Raises :class:`LadaError` when Ray cannot start or the cluster cannot be reached.
    """
    import ray

    _environment()
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address:
        try:
            ray.init(address=address, **quiet)
        except Exception as exc:
            raise LadaError(f"cannot reach the Ray cluster at {address}: {one_line(exc)}") from exc
        nodes = [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]
        try:
            check_resources(resources, nodes, f"the Ray cluster at {address}")
        except LadaError:
            ray.shutdown()
            raise
        return None
    local = local_resources()
    check_resources(resources, [local], "this machine")
    reaper = Reaper(run_dir)
    try:
        with reaper:  # every process ray.init starts carries the reaper's token
            ray.init(
                num_cpus=int(local["CPU"]),
                num_gpus=int(local["GPU"]),
                include_dashboard=False,
                **quiet,
            )
    except Exception as exc:
        reaper.stop()
        raise LadaError(f"cannot start a local Ray: {one_line(exc)}") from exc
    return reaper


def stop_ray(reaper: Reaper | None) -> None:
    """Leave the cluster; a local Ray is shut down and whatever it left is killed."""
    import ray

    ray.shutdown()
    if reaper is not None:
        reaper.stop()


def prepare_teacher(context: TrialContext, resources: Resources) -> dict[str, Any]:
    """Fine-tune (or load) the study's teacher once, in a Ray task with the trials' resources."""
    import ray

    def prepare(context: TrialContext) -> dict[str, Any]:
        import torch

        from ladasearch.compression.teacher import get_teacher
        from ladasearch.tasks import load_task

        torch.set_num_threads(max(1, int(context.cpus)))
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        data = load_task(context.task)
        cache = Path(context.cache_dir) if context.cache_dir else None
        teacher = get_teacher(
            context.model, data, teacher_config(context), device=device, cache_dir=cache, quiet=True
        )
        return {
            "teacher_accuracy": float(teacher.dev_metrics["accuracy"]),
            "teacher_test_accuracy": float(teacher.test_metrics["accuracy"]),
            "teacher_params": int(teacher.params),
            **teacher.majority_fields(),
        }

    task = ray.remote(num_cpus=resources.cpu, num_gpus=resources.gpu, max_retries=0)(prepare)
    try:
        result: Any = ray.get(task.remote(context))
        return dict(result)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
        if isinstance(cause, LadaError):
            raise LadaError(f"teacher: {cause}") from exc
        raise LadaError(f"teacher: {one_line(cause)}") from exc

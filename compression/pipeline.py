"""``compress_job``: one LadaBERT compress-distill job end to end, the one call a trial makes.

It loads the task and the (cached) teacher, runs the loop of :mod:`ladasearch.compression.loop`
(or another ``trainer``, e.g. :mod:`ladasearch.compression.scratch`'s student trained from
scratch), scores the student on dev (and test), measures its latency and size, and saves it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ladasearch.compression.attention import attention_kernel
from ladasearch.compression.evaluate import (
    evaluate_predictions,
    file_sha256,
    folder_bytes,
)
from ladasearch.compression.factor_stats import load_factorizer
from ladasearch.compression.loop import (
    IterationCallback,
    IterationCheckpoint,
    StepCallback,
    Trainer,
    run_ladabert,
)
from ladasearch.compression.process_memo import encoded, remember
from ladasearch.compression.process_memo import stats as memo_stats
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import TrainingSettings
from ladasearch.compression.serialize import save_compressed
from ladasearch.compression.teacher import TeacherConfig, get_teacher
from ladasearch.compression.teacher_outputs import shared_cache
from ladasearch.device import resolve_device
from ladasearch.progress import announce
from ladasearch.stats import majority_check
from ladasearch.tasks import TaskSpec, load_task, make_loader

__all__ = ["compress_job"]


def compress_job(
    *,
    model: str,
    task: TaskSpec,
    ratios: Ratios,
    training: TrainingSettings,
    teacher_config: TeacherConfig,
    seed: int = 0,
    device: str = "auto",
    out_dir: Path | None = None,
    callback: IterationCallback | None = None,
    measure_latency: bool = True,
    cache_dir: Path | None = None,
    quiet: bool = False,
    step_callback: StepCallback | None = None,
    trainer: Trainer | None = None,
    checkpoint: IterationCheckpoint | None = None,
    score_test: bool = True,
) -> dict[str, Any]:
    """Run one LadaBERT compress-distill job end to end; return its metrics.

    Loads the task, gets the (cached) teacher, runs the iterative schedule, evaluates dev and test,
    measures latency (batch 1 and 32, 64 tokens) on ``device`` and, with ``out_dir``, saves the
    compressed model there. Keys are those of docs/ARCHITECTURE.md. ``step_callback`` receives
    the dev scores (``accuracy``, ``nll``) every ``training.eval_every`` steps. ``trainer`` replaces the LadaBERT
    schedule (``ratios`` is then only recorded); its ``RunResult.details`` join the metrics.
    ``score_test=False`` skips the test set (a search that selects on dev and reports test only
    for the trials it shows): ``test_accuracy`` and ``retained`` are then absent. The per-example
    predictions (``dev_predictions``, ``test_predictions``) allow paired tests between runs.
    """
    started = time.perf_counter()
    memo_before = memo_stats()["hits"]
    torch_device = resolve_device(device)
    data = remember(("task", json.dumps(task.to_dict(), sort_keys=True)), lambda: load_task(task))
    if not quiet:
        announce(f"task {data.describe()}")
        announce(
            f"teacher: {model}, fine-tuned for {teacher_config.describe(len(data.train))} "
            "or taken from the cache"
        )
    teacher = get_teacher(
        model, data, teacher_config, device=torch_device, cache_dir=cache_dir, quiet=quiet
    )
    if not quiet:
        announce(
            f"teacher: dev accuracy {teacher.dev_metrics['accuracy']:.4f}, test accuracy "
            f"{teacher.test_metrics['accuracy']:.4f}{' (cached)' if teacher.cached else ''}; "
            f"student: {training.iterations} iterations x {training.steps} distillation steps on {torch_device}"
        )
    factorizer = remember(
        (
            "factorizer",
            training.factorization,
            str(teacher.path),
            str(torch_device),
            training.max_length,
        ),
        lambda: load_factorizer(
            training.factorization,
            teacher.model,
            teacher.tokenizer,
            data,
            cache_folder=teacher.path,
            device=torch_device,
            max_length=training.max_length,
        ),
    )
    teacher_cache = None
    if training.teacher_cache_mb > 0 and training.objective == "distill":
        teacher_cache = shared_cache(teacher.path / "outputs", training.teacher_cache_mb << 20)
        counts_before = (teacher_cache.hits, teacher_cache.misses)
    teacher_ready = time.perf_counter()
    if trainer is None:
        result = run_ladabert(
            teacher.model,
            teacher.tokenizer,
            data,
            ratios,
            training,
            device=torch_device,
            seed=seed,
            callback=callback,
            step_callback=step_callback,
            checkpoint=checkpoint,
            factorizer=factorizer,
            teacher_cache=teacher_cache,
        )
    else:
        result = trainer(
            teacher.model,
            teacher.tokenizer,
            data,
            training,
            device=torch_device,
            seed=seed,
            callback=callback,
            step_callback=step_callback,
        )
    student = result.student
    trained = time.perf_counter()
    dev_metrics, dev_predictions = result.details.pop("_dev", (None, None))
    if dev_metrics is None:  # another trainer: score dev here (once)
        dev = _sorted_loader(data.dev, teacher.tokenizer, training.max_length)
        dev_metrics, dev_predictions = evaluate_predictions(
            student, dev, data.metrics, torch_device
        )
    test_metrics: dict[str, float] = {}
    test_predictions: list[int] | None = None
    if score_test:
        test = _sorted_loader(data.test, teacher.tokenizer, training.max_length)
        test_metrics, test_predictions = evaluate_predictions(
            student, test, data.metrics, torch_device
        )
    last = result.history[-1]
    metrics: dict[str, Any] = {
        "model": model,
        "task": data.name,
        "accuracy": dev_metrics["accuracy"],
        "factorization": training.factorization,  # what the engine factorized with
        "teacher_accuracy": teacher.dev_metrics["accuracy"],
        "teacher_test_accuracy": teacher.test_metrics["accuracy"],
        "params": last.params,
        "teacher_params": result.teacher_params,
        "ratio": last.ratio,
        "compression": result.teacher_params / last.params,
        "p_embd": ratios.p_embd,
        "p_svd": ratios.p_svd,
        "p_weight": ratios.p_weight,
        "iterations": training.iterations,
        "steps": training.steps,
        "budget": asdict(training),
        "seed": seed,
        "device": str(torch_device),
        "history": [asdict(record) for record in result.history],
        **result.details,
    }
    metrics.update(teacher.majority_fields())  # the majority-class baseline beside both
    metrics.update(_student_majority(data, dev_predictions, test_predictions))
    metrics["dev_predictions"] = dev_predictions
    if "f1" in data.metrics:
        metrics["f1"] = dev_metrics["f1"]
        metrics["teacher_f1"] = teacher.dev_metrics.get("f1")
    if score_test:
        metrics["test_accuracy"] = test_metrics["accuracy"]
        metrics["test_predictions"] = test_predictions
        if "f1" in data.metrics:
            metrics["test_f1"] = test_metrics["f1"]
        metrics["retained"] = metrics["test_accuracy"] / max(
            metrics["teacher_test_accuracy"], 1e-12
        )
    evaluated = time.perf_counter()
    if measure_latency:
        from ladasearch.compression.bench import deployed_latency

        with attention_kernel(teacher.model, "sdpa"):  # inference speed; no attention maps
            metrics.update(
                deployed_latency(student, teacher.model, teacher.tokenizer, torch_device)
            )
    if out_dir is not None:
        folder = save_compressed(
            student, teacher.tokenizer, Path(out_dir), metadata=_card_metadata(metrics, task)
        )
        metrics["model_dir"] = str(Path(folder).resolve())
        metrics["bytes_on_disk"] = folder_bytes(Path(folder) / "model.safetensors")
        metrics["model_sha256"] = file_sha256(Path(folder) / "model.safetensors")
        metrics["teacher_bytes_on_disk"] = folder_bytes(teacher.path / "model.safetensors")
    finished = time.perf_counter()
    evaluation_s = result.timings.get("evaluate_s", 0.0) + (evaluated - trained)
    metrics["timings"] = {
        "teacher_s": teacher_ready - started,
        **result.timings,
        "final_evaluate_s": evaluated - trained,
        "latency_and_save_s": finished - evaluated,
        "total_s": finished - started,
        "teacher_cached": teacher.cached,
        "evaluation_share": evaluation_s / max(finished - started, 1e-12),
        "worker_reused": memo_stats()["hits"] - memo_before,  # built by an earlier trial
    }
    if teacher_cache is not None:
        metrics["timings"]["teacher_outputs_cached"] = teacher_cache.hits - counts_before[0]
        metrics["timings"]["teacher_outputs_computed"] = teacher_cache.misses - counts_before[1]
    return metrics


def _student_majority(
    data: Any, dev_predictions: list[int] | None, test_predictions: list[int] | None
) -> dict[str, Any]:
    """The student against always predicting the training split's majority label, on dev and
    (when scored) test: one-sided exact McNemar p-values and whether each is significant."""
    train_labels = [example.label for example in data.train]
    fields: dict[str, Any] = {}
    for prefix, predictions, examples in (
        ("student", dev_predictions, data.dev),
        ("student_test", test_predictions, data.test),
    ):
        if not train_labels or predictions is None or len(predictions) != len(examples):
            continue
        check = majority_check(predictions, [example.label for example in examples], train_labels)
        fields[f"{prefix}_majority_p"] = check.p_value
        fields[f"{prefix}_significant"] = check.significant
    return fields


def _sorted_loader(examples: Any, tokenizer: Any, max_length: int) -> Any:
    """An evaluation loader of length-sorted batches of 64 (predictions come back in order)."""
    return make_loader(
        encoded(examples, tokenizer, max_length), 64, shuffle=False, sort_by_length=True
    )


def _card_metadata(metrics: dict[str, Any], task: TaskSpec) -> dict[str, Any]:
    keep = (
        "model",
        "task",
        "accuracy",
        "test_accuracy",
        "teacher_accuracy",
        "teacher_test_accuracy",
        "majority_test_accuracy",
        "params",
        "teacher_params",
        "ratio",
        "p_embd",
        "p_svd",
        "p_weight",
        "iterations",
        "steps",
        "budget",
        "seed",
        "f1",
        "test_f1",
    )
    card = {key: metrics[key] for key in keep if key in metrics}
    card["task_spec"] = task.to_dict()
    return card

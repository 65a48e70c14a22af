"""Interleaved latency of a student against its teacher: torch and onnxruntime, batch 1 and 32.

The teacher is the dense base architecture of the student (``base_config`` of an export; weight
values do not change speed). Both run in one process on the same fixed-length inputs; every round
times one pass of each (A/B, then B/A on the next round, so neither always runs first), after
``warmup`` untimed rounds; the median and the interquartile range of ``runs`` rounds are kept.
``ladasearch bench DIR`` prints it; ``benchmarks/export_latency.py`` stores it.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ladasearch.errors import LadaError

__all__ = [
    "BenchRow",
    "bench_export",
    "bench_pair",
    "deployed_latency",
    "format_rows",
    "interleaved_latency",
    "teacher_like",
]

Runner = Callable[[], Any]


@dataclass(frozen=True)
class BenchRow:
    """One engine and batch size: medians (ms) and interquartile ranges of teacher and student."""

    engine: str
    batch: int
    teacher_ms: float
    teacher_iqr: tuple[float, float]
    student_ms: float
    student_iqr: tuple[float, float]
    runs: int
    threads: int

    @property
    def ratio(self) -> float:
        """Student time over teacher time (median over median)."""
        return self.student_ms / self.teacher_ms

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, with the ratio."""
        return {**asdict(self), "ratio": round(self.ratio, 4)}


def _quartiles(times: list[float]) -> tuple[float, tuple[float, float]]:
    q1, median, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return round(median, 3), (round(q1, 3), round(q3, 3))


def bench_pair(teacher: Runner, student: Runner, runs: int = 20, warmup: int = 3) -> Any:
    """``(teacher (median, iqr), student (median, iqr))`` in ms of interleaved calls."""
    if runs < 4 or warmup < 0:
        raise LadaError(f"need at least 4 runs and warmup >= 0, got {runs} and {warmup}")
    times: dict[int, list[float]] = {0: [], 1: []}
    pair = (teacher, student)
    for round_ in range(warmup + runs):
        order = (0, 1) if round_ % 2 == 0 else (1, 0)
        for which in order:
            start = time.perf_counter()
            pair[which]()
            elapsed = (time.perf_counter() - start) * 1000.0
            if round_ >= warmup:
                times[which].append(elapsed)
    return _quartiles(times[0]), _quartiles(times[1])


def teacher_like(student: nn.Module) -> nn.Module:
    """The dense base classifier of an exported student (random weights: speed only)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config: Any = student.config
    base = dict(getattr(config, "base_config", None) or config.to_dict())
    model_type = base.pop("model_type")
    for key in ("architectures", "auto_map", "transformers_version", "_name_or_path"):
        base.pop(key, None)
    dense_config = AutoConfig.for_model(model_type, **base)
    return AutoModelForSequenceClassification.from_config(dense_config).eval()


def _torch_runner(model: nn.Module, inputs: dict[str, torch.Tensor]) -> Runner:
    def run() -> Any:
        with torch.inference_mode():
            return model(**inputs)

    return run


def interleaved_latency(
    teacher: nn.Module,
    student: nn.Module,
    tokenizer: Any,
    device: torch.device,
    *,
    batch_sizes: Sequence[int] = (1, 32),
    seq_len: int = 64,
    runs: int = 20,
    warmup: int = 3,
) -> dict[str, dict[int, float]]:
    """``{"teacher": {batch: ms}, "student": {batch: ms}}``: medians of interleaved torch runs
    on ``device`` (synchronised around each pass on CUDA), the measurement of ``bench``."""
    from ladasearch.tasks.batching import fixed_length_batch

    result: dict[str, dict[int, float]] = {"teacher": {}, "student": {}}
    for batch in batch_sizes:
        inputs = {k: v.to(device) for k, v in fixed_length_batch(tokenizer, batch, seq_len).items()}

        def runner(model: nn.Module, inputs: dict[str, torch.Tensor] = inputs) -> Runner:
            forward = _torch_runner(model, inputs)
            if device.type != "cuda":
                return forward

            def synced() -> Any:
                torch.cuda.synchronize(device)
                out = forward()
                torch.cuda.synchronize(device)
                return out

            return synced

        (t_ms, _), (s_ms, _) = bench_pair(runner(teacher), runner(student), runs, warmup)
        result["teacher"][batch], result["student"][batch] = t_ms, s_ms
    return result


def _ort_runner(session: Any, inputs: dict[str, torch.Tensor]) -> Runner:
    names = {i.name for i in session.get_inputs()}
    feed = {k: v.numpy() for k, v in inputs.items() if k in names}
    return lambda: session.run(None, feed)


def bench_export(
    folder: Path,
    *,
    batch_sizes: Sequence[int] = (1, 32),
    seq_len: int = 64,
    runs: int = 20,
    warmup: int = 3,
    onnx: bool = True,
    echo: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    """Time the export in ``folder`` against its teacher (see the module); one row per engine
    and batch size. onnxruntime rows need the onnx extra; the folder's ``model.onnx`` (and
    ``model.int8.onnx``) are timed when present, otherwise the student is exported to a
    temporary file. Uses ``torch.get_num_threads()`` threads in both engines."""
    from ladasearch.compression.serialize import load_compressed
    from ladasearch.tasks.batching import fixed_length_batch

    student, tokenizer, _ = load_compressed(folder, "cpu")
    if tokenizer is None:
        raise LadaError(f"{folder} has no tokenizer: cannot build the benchmark inputs")
    teacher = teacher_like(student)
    threads = torch.get_num_threads()
    engines: dict[str, tuple[Any, Any]] = {"torch": (student, teacher)}
    scratch = tempfile.TemporaryDirectory()
    try:
        if onnx:
            engines.update(_onnx_engines(folder, student, teacher, Path(scratch.name), threads))
        rows = []
        for engine, (student_model, teacher_model) in engines.items():
            for batch in batch_sizes:
                inputs = fixed_length_batch(tokenizer, batch, seq_len)
                make = _torch_runner if engine == "torch" else _ort_runner
                (t_ms, t_iqr), (s_ms, s_iqr) = bench_pair(
                    make(teacher_model, inputs), make(student_model, inputs), runs, warmup
                )
                row = BenchRow(engine, batch, t_ms, t_iqr, s_ms, s_iqr, runs, threads)
                rows.append(row)
                if echo is not None:
                    echo(format_rows([row], header=False)[0])
    finally:
        scratch.cleanup()
    return rows


def _onnx_engines(
    folder: Path, student: nn.Module, teacher: nn.Module, scratch: Path, threads: int
) -> dict[str, tuple[Any, Any]]:
    from ladasearch.compression.onnx_export import (
        ONNX_FILE,
        QUANTIZED_FILE,
        export_onnx,
        onnx_session,
    )

    student_file = folder / ONNX_FILE
    if not student_file.is_file():
        student_file = scratch / "student.onnx"
        export_onnx(student, student_file)
    teacher_file = scratch / "teacher.onnx"
    export_onnx(teacher, teacher_file)
    teacher_session = onnx_session(teacher_file, threads)
    engines = {"onnxruntime": (onnx_session(student_file, threads), teacher_session)}
    if (folder / QUANTIZED_FILE).is_file():
        engines["onnxruntime int8"] = (
            onnx_session(folder / QUANTIZED_FILE, threads),
            teacher_session,
        )
    return engines


def format_rows(rows: Sequence[BenchRow], header: bool = True) -> list[str]:
    """A fixed-width table: engine, batch, teacher and student median [IQR], ratio."""
    lines = []
    if header:
        lines.append(
            f"{'engine':<18}{'batch':>6}{'teacher ms [IQR]':>26}{'student ms [IQR]':>26}"
            f"{'student/teacher':>17}"
        )
    for r in rows:
        teacher = f"{r.teacher_ms:.2f} [{r.teacher_iqr[0]:.2f}-{r.teacher_iqr[1]:.2f}]"
        student = f"{r.student_ms:.2f} [{r.student_iqr[0]:.2f}-{r.student_iqr[1]:.2f}]"
        lines.append(f"{r.engine:<18}{r.batch:>6}{teacher:>26}{student:>26}{r.ratio:>17.3f}")
    return lines


def deployed_latency(
    student: nn.Module, teacher: nn.Module, tokenizer: Any, device: torch.device
) -> dict[str, Any]:
    """Latency as an export runs: the student in its runtime form (each layer's form measured
    on ``device``, as ``ladasearch export`` chooses it), timed interleaved with the teacher
    (``ladasearch bench``'s measurement), batch 1 and 32: the trials' latency metrics."""
    from ladasearch.compression.runtime import choose_forms, export_model, time_forms

    was_training = student.training
    student.eval()
    runtime = export_model(student)
    forms = choose_forms(time_forms(runtime))
    runtime = export_model(student, forms)
    student.train(was_training)
    times = interleaved_latency(teacher, runtime, tokenizer, device)
    counts: dict[str, int] = {}
    for form in forms.values():
        counts[form] = counts.get(form, 0) + 1
    return {
        "latency_ms": times["student"][1],
        "latency_ms_b32": times["student"][32],
        "teacher_latency_ms": times["teacher"][1],
        "teacher_latency_ms_b32": times["teacher"][32],
        "latency_forms": counts,
    }

"""``ladasearch compress``: one LadaBERT compress-distill run at given ratios."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ladasearch.commands.common import (
    add_model_argument,
    add_output_arguments,
    add_task_arguments,
    task_spec_from_args,
)
from ladasearch.search.study_sections import TeacherSettings
from ladasearch.stats import weak_student_warning, weak_teacher_warning
from ladasearch.units import format_factor

__all__ = ["parse_loss_weights", "register"]


def register(subparsers: Any) -> None:
    """Add ``compress`` to the CLI."""
    parser = subparsers.add_parser(
        "compress",
        help="one compress-distill run at given (P_embd, P_svd, P_weight)",
        description="Fine-tune (or reuse) the teacher, then compress and distil a student at the given ratios.",
    )
    add_model_argument(parser)
    add_task_arguments(parser)
    ratios = parser.add_argument_group("ratios (each in (0, 1]; 1 keeps that part dense)")
    ratios.add_argument(
        "--p-embd", type=float, required=True, help="fraction of word-embedding parameters kept"
    )
    ratios.add_argument(
        "--p-svd", type=float, required=True, help="SVD ratio of eq. 3 for encoder matrices"
    )
    ratios.add_argument(
        "--p-weight", type=float, required=True, help="fraction of factor weights kept by pruning"
    )
    train = parser.add_argument_group("training budget")
    train.add_argument(
        "--iterations", type=int, default=3, help="compress-distill iterations K (default 3)"
    )
    train.add_argument(
        "--steps",
        type=int,
        default=100,
        help="distillation steps per iteration (default 100; 0 compresses only)",
    )
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument(
        "--learning-rate",
        type=float,
        default=1e-4,
        help="student AdamW learning rate (default 1e-4)",
    )
    train.add_argument(
        "--max-length", type=int, default=128, help="max tokens per example (default 128)"
    )
    train.add_argument(
        "--temperature", type=float, default=1.0, help="prediction-loss temperature (default 1)"
    )
    train.add_argument(
        "--loss-weights",
        default="embedding=1,attention=1,hidden=1,prediction=1",
        help="weights of the distillation losses, e.g. embedding=1,attention=1,hidden=1,prediction=1",
    )
    train.add_argument(
        "--factorization",
        choices=("svd", "fisher", "whiten"),
        default="whiten",
        help="how encoder matrices are factorized: plain SVD, Fisher-weighted SVD or "
        "activation-whitened SVD (default; statistics of 256 training examples, cached with the "
        "teacher)",
    )
    train.add_argument(
        "--schedule",
        choices=("geometric", "linear"),
        default="geometric",
        help="per-iteration targets: the same cut each iteration (default) or the old linear one",
    )
    train.add_argument(
        "--label-weight",
        type=float,
        default=0.0,
        help="weight of a cross-entropy term on the labels added to distillation (default 0)",
    )
    train.add_argument(
        "--sum-layer-losses",
        action="store_true",
        help="old recipe: sum the per-layer hidden/attention losses instead of averaging them",
    )
    train.add_argument(
        "--no-temperature-squared",
        action="store_true",
        help="old recipe: do not scale the prediction loss by T^2",
    )
    train.add_argument(
        "--decay-norm-and-bias",
        action="store_true",
        help="old recipe: weight decay on LayerNorm weights and biases too",
    )
    teacher = parser.add_argument_group("teacher fine-tuning (cached on disk)")
    teacher.add_argument(
        "--teacher-steps",
        type=int,
        default=None,
        help="fine-tuning steps (default: --teacher-epochs passes over the training split)",
    )
    teacher.add_argument(
        "--teacher-epochs", type=float, default=3.0, help="fine-tuning epochs (default 3)"
    )
    teacher.add_argument(
        "--teacher-learning-rate",
        type=float,
        default=TeacherSettings.learning_rate,
        help=f"(default {TeacherSettings.learning_rate:g}: the measured recipe, docs/TEACHER.md)",
    )
    teacher.add_argument(
        "--teacher-balance-classes",
        action="store_true",
        help="weight the fine-tuning loss so every class counts alike (imbalanced tasks)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--device", default="auto", help="auto (CUDA when visible), cpu, cuda or cuda:N"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="save the compressed model to this folder"
    )
    parser.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="teacher cache (default ~/.cache/ladasearch)"
    )
    add_output_arguments(parser)
    parser.set_defaults(func=run)


def parse_loss_weights(text: str) -> dict[str, float]:
    """``"embedding=1,attention=0.5"`` -> ``{"embedding": 1.0, "attention": 0.5}``."""
    from ladasearch.errors import LadaError

    allowed = ("embedding", "attention", "hidden", "prediction")
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if name not in allowed:
            raise LadaError(f"--loss-weights: unknown loss {name!r}; use {', '.join(allowed)}")
        try:
            weights[name] = float(value)
        except ValueError as exc:
            raise LadaError(f"--loss-weights: {name} needs a number, got {value!r}") from exc
        if not weights[name] >= 0:
            raise LadaError(f"--loss-weights: {name} must be >= 0, got {value!r}")
    return weights


def run(args: argparse.Namespace) -> int:
    """Run the job, print a summary, and with ``--json`` one JSON object as the last line."""
    from ladasearch.compression.distill import LossWeights, TrainingDiverged
    from ladasearch.compression.pipeline import compress_job
    from ladasearch.compression.ratios import Ratios
    from ladasearch.errors import LadaError
    from ladasearch.progress import set_quiet
    from ladasearch.search.study_sections import TrialSettings
    from ladasearch.search.study_settings import teacher_config as study_teacher_config
    from ladasearch.search.study_settings import training_settings

    set_quiet(args.quiet)
    ratios = Ratios(args.p_embd, args.p_svd, args.p_weight)
    trial = TrialSettings(
        iterations=args.iterations,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        temperature=args.temperature,
        factorization=args.factorization,
        schedule=args.schedule,
        layer_average=not args.sum_layer_losses,
        temperature_squared=not args.no_temperature_squared,
        label_weight=args.label_weight,
        decay_norm_and_bias=args.decay_norm_and_bias,
    )
    training = training_settings(
        trial, loss_weights=LossWeights(**parse_loss_weights(args.loss_weights))
    )
    teacher_config = study_teacher_config(
        TeacherSettings(
            steps=args.teacher_steps,
            learning_rate=args.teacher_learning_rate,
            balance_classes=args.teacher_balance_classes,
        ),
        study_seed=args.seed,
        max_length=args.max_length,
        epochs=args.teacher_epochs,
    )
    if args.out is not None and args.out.exists() and any(args.out.iterdir()):
        raise LadaError(f"--out {args.out} is not empty; choose another folder")

    def report(iteration: int, accuracy: float, params: int, ratio: float) -> None:
        if not args.quiet:
            print(
                f"iteration {iteration}/{training.iterations}: dev accuracy {accuracy:.4f}, "
                f"{params:,} nonzero params (ratio {ratio:.4f}, {format_factor(ratio)})",
                file=sys.stderr,
                flush=True,
            )

    try:
        metrics = compress_job(
            model=args.model,
            task=task_spec_from_args(args, seed=args.seed),
            ratios=ratios,
            training=training,
            teacher_config=teacher_config,
            seed=args.seed,
            device=args.device,
            out_dir=args.out,
            callback=report,
            measure_latency=not args.no_latency,
            cache_dir=args.cache_dir,
            quiet=args.quiet,
        )
    except TrainingDiverged as exc:
        raise LadaError(f"training diverged: {exc}; try a lower --learning-rate") from exc
    _print_summary(metrics)
    warning = weak_teacher_warning(metrics) or weak_student_warning(metrics)
    if warning is not None:
        metrics["warning"] = warning
    if args.json:
        print(json.dumps(metrics))
    return 0


def _print_summary(m: dict[str, Any]) -> None:
    rows = [
        ("dev accuracy", f"{m['teacher_accuracy']:.4f}", f"{m['accuracy']:.4f}"),
        ("test accuracy", f"{m['teacher_test_accuracy']:.4f}", f"{m.get('test_accuracy', 0):.4f}"),
        ("nonzero params", f"{m['teacher_params']:,}", f"{m['params']:,}"),
        ("ratio", "1.0000 (1.0x)", f"{m['ratio']:.4f} ({format_factor(m['ratio'])})"),
    ]
    if m.get("majority_test_accuracy") is not None:
        majority = f"{m['majority_test_accuracy']:.4f}"
        rows.append(("majority class", f"{majority} (test)", f"{majority} (test)"))
    if "latency_ms" in m:
        rows.append(("latency b1 (ms)", f"{m['teacher_latency_ms']:.1f}", f"{m['latency_ms']:.1f}"))
        rows.append(
            ("latency b32 (ms)", f"{m['teacher_latency_ms_b32']:.1f}", f"{m['latency_ms_b32']:.1f}")
        )
    if "bytes_on_disk" in m:
        rows.append(
            ("weights on disk", f"{m['teacher_bytes_on_disk']:,} B", f"{m['bytes_on_disk']:,} B")
        )
    print(
        f"{m['model']} on {m['task']}: P_embd={m['p_embd']:.3f} P_svd={m['p_svd']:.3f} P_weight={m['p_weight']:.3f}"
    )
    print(f"  {'':<18}{'teacher':>18}{'compressed':>22}")
    for name, teacher, student in rows:
        print(f"  {name:<18}{teacher:>18}{student:>22}")
    print(f"  retained test accuracy: {m['retained']:.1%}   ({m['timings']['total_s']:.0f} s)")
    if "model_dir" in m:
        print(f"  saved to {m['model_dir']}")
    warning = weak_teacher_warning(m) or weak_student_warning(m)  # the teacher's comes first
    if warning is not None:
        print(warning)

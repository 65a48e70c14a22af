"""What the factorization alone keeps: ``--steps 0`` (compress only, no training), plain vs data-aware.

For each point (pure SVD at P_svd = 0.5, and the balanced point at 5x: P_embd = H,
P_svd = P_weight = sqrt(H)) and each factorization, one compress_job with ``steps=0`` and one
iteration; prints dev and test accuracy (with the majority class beside them) and the paired
McNemar p-value of each data-aware method against plain SVD on the same test examples.

    PYTHONPATH=. python benchmarks/factorization_alone.py --device cpu
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ladasearch.commands.common import add_model_argument, add_task_arguments, task_spec_from_args
from ladasearch.compression.accounting import parameter_groups
from ladasearch.compression.pipeline import compress_job
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import TrainingSettings
from ladasearch.compression.teacher import TeacherConfig
from ladasearch.models import load_classifier
from ladasearch.search.space import balanced_points
from ladasearch.stats import mcnemar_exact
from ladasearch.tasks import load_task


def _majority(labels: list[int]) -> float:
    return max(labels.count(label) for label in set(labels)) / len(labels)


def _points(model: str, num_labels: int) -> list[tuple[str, Ratios]]:
    from ladasearch.search.space import GroupSizes

    net, _ = load_classifier(model, [str(i) for i in range(num_labels)])
    sizes = GroupSizes.of(parameter_groups(net))
    (_, balanced), *_ = balanced_points(sizes, 0.2, 0.2)
    return [
        ("pure SVD 0.5", Ratios(1.0, 0.5, 1.0)),
        ("balanced 5x", balanced),
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the table; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_argument(parser, required=False)
    add_task_arguments(parser, required=False)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--teacher-steps", type=int, default=300, help="0: the recipe's epochs")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--methods", default="svd,fisher,whiten")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    task = task_spec_from_args(args)
    data = load_task(task)
    teacher = TeacherConfig(steps=args.teacher_steps or None, max_length=args.max_length, seed=0)
    majority_dev = _majority([e.label for e in data.dev])
    majority_test = _majority([e.label for e in data.test])
    print(f"{args.model} on {data.describe()}; steps 0 (no training), one iteration")
    print(f"majority class: dev {majority_dev:.4f}, test {majority_test:.4f}")
    header = (
        f"{'point':<14}{'ratios':<22}{'method':<8}{'ratio':>8}{'dev':>8}{'test':>8}{'p vs svd':>10}"
    )
    print(header)
    for name, ratios in _points(args.model, data.num_labels):
        plain: dict[str, Any] | None = None
        for method in args.methods.split(","):
            metrics = compress_job(
                model=args.model,
                task=task,
                ratios=ratios,
                training=TrainingSettings(
                    iterations=1, steps=0, max_length=args.max_length, factorization=method
                ),
                teacher_config=teacher,
                device=args.device,
                measure_latency=False,
                cache_dir=args.cache_dir,
                quiet=True,
            )
            labels = [e.label for e in data.test]
            correct = [p == y for p, y in zip(metrics["test_predictions"], labels, strict=True)]
            p_value = "-"
            if plain is None:
                plain = {"correct": correct}
            else:
                p_value = f"{mcnemar_exact(correct, plain['correct']):.3g}"
            described = f"{ratios.p_embd:.2f}/{ratios.p_svd:.2f}/{ratios.p_weight:.2f}"
            print(
                f"{name:<14}{described:<22}{method:<8}{1 / metrics['ratio']:>7.2f}x"
                f"{metrics['accuracy']:>8.4f}{metrics['test_accuracy']:>8.4f}{p_value:>10}",
                flush=True,
            )
        print(
            f"{'':<14}teacher: dev {metrics['teacher_accuracy']:.4f}, test "
            f"{metrics['teacher_test_accuracy']:.4f}"
        )
    assert not math.isnan(majority_dev)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Compare distillation recipes, factorizations or methods over seeds; print a markdown table.

    PYTHONPATH=. python benchmarks/recipes.py --compare recipes --seeds 3 --device cuda
    PYTHONPATH=. python benchmarks/recipes.py --compare factorizations --target 5 --seeds 3
    PYTHONPATH=. python benchmarks/recipes.py --compare methods --target 5 --seeds 3

``recipes``: the old recipe (linear schedule, per-layer losses summed, no T^2, weight decay on
LayerNorm and biases) against the new one, with and without a label cross-entropy term.
``factorizations``: svd, fisher and whiten under the new recipe. ``methods``: LadaBERT against
the paper's baselines at the same size: weight pruning only (P_svd = 1) and SVD only
(P_weight = 1), both trained on the labels as the paper's are, hybrid pruning without distillation
(label fine-tuning), and a small student distilled from a teacher-initialised (layer-dropped,
width-sliced) and a random start. All at the balanced point of ``--target`` (P_embd = H,
P_svd = P_weight = sqrt(H)) unless ``--point`` gives the ratios. The first variant is the reference
of the paired tests (see :mod:`benchmarks.seeded`).

``--only NAME`` (repeatable) runs a subset of the variants and ``--json PATH`` writes every run's
metrics and predictions, so one comparison can be split over parallel processes and its table
rendered from the files afterwards (``python -m benchmarks.seeded_tables FILES...``).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from benchmarks.seeded import Variant, VariantResult, render, run_variants, save_results
from ladasearch.commands.common import add_model_argument, add_task_arguments, task_spec_from_args
from ladasearch.compression.accounting import (
    parameter_groups,
    solve_p_svd,
    solve_p_weight,
)
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import TrainingSettings
from ladasearch.compression.scratch import scratch_trainer
from ladasearch.compression.teacher import TeacherConfig
from ladasearch.models import load_classifier
from ladasearch.search.space import GroupSizes, balanced_points
from ladasearch.tasks import TaskData, load_task

__all__ = ["balanced_ratios", "main", "variants"]

COMPARISONS = ("recipes", "factorizations", "methods")


def balanced_ratios(model: str, task: TaskData, factor: float) -> Ratios:
    """The balanced point at ``factor`` x compression of ``model``."""
    net, _ = load_classifier(model, task.label_names)
    sizes = GroupSizes.of(parameter_groups(net))
    (_, ratios), *_ = balanced_points(sizes, 1 / factor, 1 / factor)
    return ratios


def single_method_ratios(
    model: str, task: TaskData, factor: float, p_embd: float
) -> dict[str, Ratios]:
    """The paper's single-method baselines at ``factor`` x with ``p_embd``: eq. 7 solved for the
    one encoder ratio left (weight pruning only: P_svd = 1; SVD only: P_weight = 1)."""
    net, _ = load_classifier(model, task.label_names)
    groups = parameter_groups(net)
    target = 1 / factor
    return {
        "pruning": Ratios(p_embd, 1.0, float(solve_p_weight(groups, target, p_embd, 1.0))),
        "svd": Ratios(p_embd, solve_p_svd(groups, target, p_embd), 1.0),
    }


def variants(
    compare: str,
    ratios: Ratios,
    base: TrainingSettings,
    factor: float,
    singles: dict[str, Ratios] | None = None,
) -> list[Variant]:
    """The variants of one comparison (the first is the reference); ``singles`` are the
    single-method baselines' ratios (``methods`` only, see :func:`single_method_ratios`)."""
    replace = dataclasses.replace
    if compare == "recipes":
        old = replace(
            base,
            schedule="linear",
            layer_average=False,
            temperature_squared=False,
            decay_norm_and_bias=True,
        )
        return [
            Variant("new recipe", ratios, base),
            Variant("old recipe", ratios, old),
            Variant("new recipe + label CE", ratios, replace(base, label_weight=1.0)),
        ]
    if compare == "factorizations":
        return [
            Variant(method, ratios, replace(base, factorization=method))
            for method in ("svd", "fisher", "whiten")
        ]
    finetune = replace(base, objective="finetune")
    baselines = []
    if singles is not None:
        baselines = [
            Variant("weight pruning only", singles["pruning"], finetune),
            Variant("SVD only", singles["svd"], finetune),
        ]
    return [
        Variant("LadaBERT", ratios, base),
        *baselines,
        Variant("hybrid pruning w/o KD", ratios, finetune),
        Variant("small student, teacher init", ratios, base, scratch_trainer(1 / factor)),
        Variant(
            "small student, random init", ratios, base, scratch_trainer(1 / factor, init="random")
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print (and with ``--out`` write) its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", choices=COMPARISONS, default="recipes")
    add_model_argument(parser, required=False)
    add_task_arguments(parser, required=False)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 (at least 3)")
    parser.add_argument("--target", type=float, default=5.0, help="compression factor (5 = 5x)")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--factorization", default="whiten")
    parser.add_argument("--teacher-steps", type=int, default=300, help="0: the recipe's epochs")
    parser.add_argument("--teacher-batch-size", type=int, default=32)
    parser.add_argument("--teacher-learning-rate", type=float, default=5e-5)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument(
        "--json", type=Path, default=None, help="write every run's metrics and predictions here"
    )
    parser.add_argument(
        "--only", action="append", default=None, metavar="VARIANT", help="run only these variants"
    )
    parser.add_argument(
        "--point",
        default=None,
        metavar="E,S,W",
        help="P_embd,P_svd,P_weight instead of the balanced point (e.g. a search's winner)",
    )
    parser.add_argument("--label", default=None, help="name of the LadaBERT variant in the table")
    args = parser.parse_args(argv)
    if args.seeds < 3:
        parser.error("--seeds must be at least 3 (mean, std and a paired test need them)")
    spec = task_spec_from_args(args)
    task = load_task(spec)
    if args.point is not None:
        try:
            ratios = Ratios(*(float(v) for v in args.point.split(",")))
        except (TypeError, ValueError) as error:
            parser.error(f"--point must be three ratios P_embd,P_svd,P_weight: {error}")
    else:
        ratios = balanced_ratios(args.model, task, args.target)
    base = TrainingSettings(
        iterations=args.iterations,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        factorization=args.factorization,
    )
    teacher = TeacherConfig(
        steps=args.teacher_steps or None,
        batch_size=args.teacher_batch_size,
        learning_rate=args.teacher_learning_rate,
        max_length=args.max_length,
        seed=0,
    )
    print(
        f"{args.compare} on {args.model} / {task.describe()}; {args.target:g}x at "
        f"P_embd={ratios.p_embd:.3f} P_svd={ratios.p_svd:.3f} P_weight={ratios.p_weight:.3f}; "
        f"{args.iterations} x {args.steps} steps, batch {args.batch_size}, lr {args.learning_rate:g}",
        flush=True,
    )
    singles = (
        single_method_ratios(args.model, task, args.target, ratios.p_embd)
        if args.compare == "methods"
        else None
    )
    chosen = variants(args.compare, ratios, base, args.target, singles)
    if args.label is not None:
        chosen[0] = dataclasses.replace(chosen[0], name=args.label)
    order = [v.name for v in chosen]  # the full comparison's order: its first is the reference
    if args.only:
        unknown = set(args.only) - {v.name for v in chosen}
        if unknown:
            parser.error(
                f"--only: no variant {sorted(unknown)}; the variants are "
                + ", ".join(repr(v.name) for v in chosen)
            )
        chosen = [v for v in chosen if v.name in args.only]
    meta = {
        "compare": args.compare,
        "target": args.target,
        "model": args.model,
        "task": spec.name,
        "budget": dataclasses.asdict(base),
        "teacher": dataclasses.asdict(teacher),
        "device": args.device,
        "order": order,
    }

    def save(partial: list[VariantResult]) -> None:
        if args.json is not None:
            save_results(args.json, partial, task, meta)

    results = run_variants(
        chosen,
        model=args.model,
        task=spec,
        teacher_config=teacher,
        seeds=range(args.seeds),
        device=args.device,
        cache_dir=args.cache_dir,
        on_run=save,
    )
    table = render(results, [e.label for e in task.dev], [e.label for e in task.test])
    print(table)
    if args.out is not None:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

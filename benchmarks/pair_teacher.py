"""Issue 17's measurements: teacher recipes against the majority class, then retention by ratio.

    python -m benchmarks.pair_teacher --data DIR --out DIR [--model minilm] [--seeds 0 1 2]
        [--tasks polarity film continuation rt] [--recipes old old_lr epochs epochs_lr long]
        [--bench-tasks film rt] [--workers 6] [--device cuda] [--tiny]

``DIR`` holds the CSVs of :mod:`benchmarks.pair_tasks`. Part 1 fine-tunes a teacher for every
(task, recipe, seed) and compares it with the majority class on the test split (exact one-sided
McNemar, :mod:`ladasearch.stats`); part 2 compresses each ``--bench-tasks`` teacher (recipe
``epochs``, the default, seed 0) at 2.5x, 5x, 7.5x and 10x with the ratios the constrained-TPE
search found on ``rt`` (BENCHMARKS.md section 1) and the benchmark's run budget, once per
``--bench-seeds`` student seed, each student checked against the majority class on the same test
examples. Every finished run is one JSON
line in ``OUT/teachers.jsonl`` / ``OUT/bench.jsonl`` (written as it finishes, so an interrupted
run keeps what it did); the tables are printed at the end and rebuilt by ``--tables-only``.
Runs go to ``--workers`` processes (several small models share one GPU well).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from ladasearch.compression.teacher import TeacherConfig

__all__ = ["BENCH_RATIOS", "RECIPES", "main"]

MAX_LENGTH = 64  # the issue's --max-length, and the benchmark budgets'
RECIPES: dict[str, TeacherConfig] = {
    # the recipe before issue 17: 300 steps at lr 5e-5, the last checkpoint
    "old": TeacherConfig(steps=300, learning_rate=5e-5, evaluations=1, max_length=MAX_LENGTH),
    # the old length at twice the learning rate
    "old_lr": TeacherConfig(steps=300, learning_rate=1e-4, evaluations=1, max_length=MAX_LENGTH),
    # the new default: 3 epochs (at least 300 steps) at lr 5e-5, best of 3 dev checks
    "epochs": TeacherConfig(max_length=MAX_LENGTH),
    # the same at twice the learning rate
    "epochs_lr": TeacherConfig(learning_rate=1e-4, max_length=MAX_LENGTH),
    # much longer: at least 1000 steps (7.3 epochs of 4,400 pairs), lr 1e-4, best of 5 checks
    "long": TeacherConfig(learning_rate=1e-4, min_steps=1000, evaluations=5, max_length=MAX_LENGTH),
    # the default with a class-balanced loss (issue 17: off the majority plateau sooner?)
    "balanced": TeacherConfig(balance_classes=True, max_length=MAX_LENGTH),
    # the same at twice the learning rate (compress's teacher lr before issue 17)
    "balanced_lr": TeacherConfig(balance_classes=True, learning_rate=1e-4, max_length=MAX_LENGTH),
}
# factor -> (P_embd, P_svd, P_weight) found on rt by the cpu profile's search (BENCHMARKS.md 1)
BENCH_RATIOS = {
    2.5: (0.409, 0.753, 0.490),
    5.0: (0.187, 0.432, 0.429),
    7.5: (0.119, 0.345, 0.345),
    10.0: (0.085, 0.291, 0.294),
}


def _task(data: Path, name: str) -> Any:
    from benchmarks.pair_tasks import load_pair_task
    from ladasearch.tasks import TaskSpec, load_task

    return load_task(TaskSpec("rt")) if name == "rt" else load_pair_task(data, name)


def _shrink(task: Any, tiny: bool) -> Any:
    if not tiny:
        return task
    return replace(task, train=task.train[:96], dev=task.dev[:48], test=task.test[:48])


def _teacher_job(args: dict[str, Any]) -> dict[str, Any]:
    import torch

    from ladasearch.compression.evaluate import predict_logits
    from ladasearch.compression.teacher import get_teacher
    from ladasearch.tasks import encode, make_loader

    torch.set_num_threads(1)
    task = _shrink(_task(Path(args["data"]), args["task"]), args["tiny"])
    config = replace(args["config"], seed=args["seed"])
    started = time.perf_counter()
    teacher = get_teacher(
        args["model"],
        task,
        config,
        device=torch.device(args["device"]),
        cache_dir=Path(args["cache"]),
        quiet=not args.get("progress", False),
    )
    meta = json.loads((teacher.path / "teacher.json").read_text(encoding="utf-8"))
    loader = make_loader(encode(task.test, teacher.tokenizer, config.max_length), 64, shuffle=False)
    predictions = predict_logits(teacher.model, loader, teacher.model.device).argmax(-1)  # (n,)
    assert teacher.majority_test is not None and teacher.majority_dev is not None
    return {
        "task": args["task"],
        "recipe": args["recipe"],
        "seed": args["seed"],
        "steps": meta["steps"],
        "best_step": meta["best_step"],
        "dev_checks": meta["dev_checks"],
        "dev_accuracy": teacher.dev_metrics["accuracy"],
        "test": teacher.majority_test.to_dict(),
        "dev": teacher.majority_dev.to_dict(),
        "seconds": round(time.perf_counter() - started, 1),
        "train": len(task.train),
        "test_predictions": predictions.tolist(),  # for paired tests between recipes
        "test_labels": [e.label for e in task.test],
    }


def _bench_job(args: dict[str, Any]) -> dict[str, Any]:
    import torch

    from ladasearch.compression.evaluate import predict_logits
    from ladasearch.compression.loop import run_ladabert
    from ladasearch.compression.ratios import Ratios
    from ladasearch.compression.schedule import TrainingSettings
    from ladasearch.compression.teacher import get_teacher
    from ladasearch.stats import majority_check
    from ladasearch.tasks import encode, make_loader

    torch.set_num_threads(1)
    device = torch.device(args["device"])
    task = _shrink(_task(Path(args["data"]), args["task"]), args["tiny"])
    recipe = RECIPES[args.get("bench_recipe", "epochs")]
    config = replace(recipe, steps=4, min_steps=2) if args["tiny"] else recipe
    teacher = get_teacher(
        args["model"], task, config, device=device, cache_dir=Path(args["cache"]), quiet=True
    )
    steps = 5 if args["tiny"] else int(args.get("bench_steps", 100))
    budget = TrainingSettings(
        iterations=2, steps=steps, batch_size=32, learning_rate=2e-4, max_length=MAX_LENGTH
    )
    if args.get("bench_ratios", "search") == "balanced":
        from benchmarks.recipes import balanced_ratios

        ratios = balanced_ratios(args["model"], task, args["factor"])
    else:
        ratios = Ratios(*BENCH_RATIOS[args["factor"]])
    started = time.perf_counter()
    result = run_ladabert(
        teacher.model,
        teacher.tokenizer,
        task,
        ratios,
        budget,
        device=device,
        seed=args["seed"],
    )
    loader = make_loader(encode(task.test, teacher.tokenizer, MAX_LENGTH), 64, shuffle=False)
    predictions = predict_logits(result.student, loader, device).argmax(-1)  # (n,)
    labels = [e.label for e in task.test]
    student_check = majority_check(predictions.tolist(), labels, [e.label for e in task.train])
    test = student_check.accuracy  # one pass over test: the check's accuracy is the student's
    check = teacher.majority_test
    assert check is not None
    return {
        "task": args["task"],
        "factor": args["factor"],
        "seed": args["seed"],
        "ratios": [round(ratios.p_embd, 4), round(ratios.p_svd, 4), round(ratios.p_weight, 4)],
        "ratio_source": args.get("bench_ratios", "search"),
        "measured_ratio": result.history[-1].ratio,
        "test_accuracy": test,
        "dev_accuracy": result.history[-1].accuracy,
        "teacher_test_accuracy": teacher.test_metrics["accuracy"],
        "teacher_dev_accuracy": teacher.dev_metrics["accuracy"],
        "majority_dev_accuracy": teacher.majority_dev.majority_accuracy
        if teacher.majority_dev is not None
        else None,
        "majority_test_accuracy": check.majority_accuracy,
        "teacher_majority_p": check.p_value,
        "retained": test / teacher.test_metrics["accuracy"],
        "student_majority": student_check.to_dict(),  # the student against the majority class
        "test_predictions": predictions.tolist(),  # pooled paired tests over student seeds
        "test_labels": labels,
        "teacher_recipe": args.get("bench_recipe", "epochs"),
        "device": args["device"],
        "seconds": round(time.perf_counter() - started, 1),
        "budget": f"2 iterations x {steps} steps, batch 32, lr 0.0002, max length {MAX_LENGTH}",
        "training": asdict(budget),  # rt's retention only at the same budget
    }


def _run(jobs: list[tuple[Any, dict[str, Any], Path]], workers: int) -> list[dict[str, Any]]:
    """Run every ``(function, args, jsonl)`` job in one pool (bench jobs wait on their teacher's
    cache lock); append each result to its JSON-lines file as it finishes."""
    results: list[dict[str, Any]] = []
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(job, args): out for job, args, out in jobs}
        for future in as_completed(futures):
            out = futures[future]
            try:
                row = future.result()
            except Exception as exc:  # keep the other runs; say which failed
                print(f"FAILED: {type(exc).__name__}: {exc}", flush=True)
                continue
            results.append(row)
            with out.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
            shown = {
                k: v
                for k, v in row.items()
                if k not in ("dev_checks", "test_predictions", "test_labels")
            }
            print(json.dumps(shown), flush=True)
    return results


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def teacher_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown: per task and recipe, mean test accuracy over seeds against the majority class."""
    lines = [
        "| task | recipe | steps | seeds | teacher test acc. % (mean, per seed) "
        "| majority % | significant (p < 0.05) | max p |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["task"], row["recipe"]), []).append(row)
    order = list(RECIPES)
    for (task, recipe), group in sorted(
        groups.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1]))
    ):
        group.sort(key=lambda r: r["seed"])
        accs = [100 * r["test"]["accuracy"] for r in group]
        per_seed = ", ".join(f"{a:.1f}" for a in accs)
        significant = sum(r["test"]["p_value"] < 0.05 for r in group)
        lines.append(
            f"| {task} | {recipe} | {group[0]['steps']} | {len(group)} | "
            f"{statistics.mean(accs):.1f} ({per_seed}) | {100 * group[0]['test']['majority_accuracy']:.1f} | "
            f"{significant}/{len(group)} | {max(r['test']['p_value'] for r in group):.2g} |"
        )
    return lines


def bench_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown: retention per task and compression factor."""
    lines = [
        "| task | ratio | student test acc. % | teacher test acc. % | majority % | retained % "
        "| measured ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in sorted(rows, key=lambda r: (r["task"], r["factor"], r["seed"])):
        lines.append(
            f"| {row['task']} | {row['factor']:g}x | {100 * row['test_accuracy']:.1f} | "
            f"{100 * row['teacher_test_accuracy']:.1f} | {100 * row['majority_test_accuracy']:.1f} | "
            f"{100 * row['retained']:.1f} | {row['measured_ratio']:.4f} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the parts asked for, then print both tables."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pair_teacher", description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="*", default=["polarity", "film", "continuation", "rt"])
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--bench-tasks", nargs="*", default=["film", "rt"])
    parser.add_argument(
        "--bench-recipe", choices=list(RECIPES), default="epochs", help="teacher of part 2"
    )
    parser.add_argument(
        "--bench-steps", type=int, default=100, help="distillation steps per iteration (part 2)"
    )
    parser.add_argument(
        "--bench-ratios",
        choices=("search", "balanced"),
        default="search",
        help="part 2's ratios: those the search found on rt, or each factor's balanced point "
        "(P_embd = H, P_svd = P_weight = sqrt(H), as BENCHMARKS.md's rt quality table)",
    )
    parser.add_argument(
        "--bench-factors",
        type=float,
        nargs="+",
        choices=list(BENCH_RATIOS),
        default=list(BENCH_RATIOS),
        help="part 2's compression factors",
    )
    parser.add_argument(
        "--bench-seeds",
        type=int,
        nargs="+",
        default=[0],
        help="student seeds of part 2 (the teacher is always the recipe's seed 0)",
    )
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument(
        "--cache", type=Path, default=None, help="teacher cache (default OUT/cache)"
    )
    parser.add_argument("--tiny", action="store_true", help="a few examples and steps (dry run)")
    parser.add_argument("--progress", action="store_true", help="show the teachers' step bars")
    parser.add_argument("--tables-only", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.cache or args.out / "cache"
    common = {"data": str(args.data), "model": args.model, "device": args.device}
    common |= {"cache": str(cache), "tiny": args.tiny, "progress": args.progress}
    if not args.tables_only:
        jobs = [
            {**common, "task": t, "recipe": r, "config": RECIPES[r], "seed": s}
            for r in args.recipes
            for s in args.seeds
            for t in args.tasks
        ]
        if args.tiny:
            jobs = [{**j, "config": replace(j["config"], steps=4, min_steps=2)} for j in jobs]
        bench = [
            {
                **common,
                "task": t,
                "factor": f,
                "seed": seed,
                "bench_recipe": args.bench_recipe,
                "bench_steps": args.bench_steps,
                "bench_ratios": args.bench_ratios,
            }
            for seed in args.bench_seeds
            for t in args.bench_tasks
            for f in args.bench_factors
        ]
        started = time.perf_counter()
        _run(
            [(_teacher_job, j, args.out / "teachers.jsonl") for j in jobs]
            + [(_bench_job, j, args.out / "bench.jsonl") for j in bench],
            args.workers,
        )
        print(f"all runs: {time.perf_counter() - started:.0f} s", flush=True)
    print("\n".join(teacher_table(_read(args.out / "teachers.jsonl"))))
    print()
    print("\n".join(bench_table(_read(args.out / "bench.jsonl"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

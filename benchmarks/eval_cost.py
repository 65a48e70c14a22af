"""Cost of one dev pass: file order + eager attention (the old evaluation) vs length-sorted + sdpa.

    PYTHONPATH=. python benchmarks/eval_cost.py --device cpu [--repeats 2]

Uses the cached minilm/rt teacher (300 steps, max length 64; trained on first use) and prints
the median seconds of a full dev pass for each way, and that both give the same accuracy.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ladasearch.compression.evaluate import evaluate_predictions
from ladasearch.compression.teacher import TeacherConfig, get_teacher
from ladasearch.tasks import TaskSpec, encode, load_task, make_loader


def main(argv: list[str] | None = None) -> int:
    """Print the table; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=64)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    data = load_task(TaskSpec("rt"))
    config = TeacherConfig(steps=300, max_length=args.max_length, seed=0)
    teacher = get_teacher(args.model, data, config, device=device, quiet=True)
    encoded = encode(data.dev, teacher.tokenizer, args.max_length)
    ways = {
        "file order, eager": (make_loader(encoded, 64, shuffle=False), "eager"),
        "length-sorted, sdpa": (
            make_loader(encoded, 64, shuffle=False, sort_by_length=True),
            "sdpa",
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    scores: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, (loader, kernel) in ways.items():
            started = time.perf_counter()
            result, _ = evaluate_predictions(
                teacher.model, loader, ("accuracy",), device, attention=kernel
            )
            times[name].append(time.perf_counter() - started)
            scores[name] = result["accuracy"]
    print(
        f"dev pass over {len(data.dev)} reviews, batch 64, {args.model} teacher, {device}, "
        f"{torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(f"{'way':<24}{'seconds':>10}{'accuracy':>10}")
    for name in ways:
        print(f"{name:<24}{statistics.median(times[name]):>10.2f}{scores[name]:>10.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""CPU inference latency of compressed students against the dense teacher, mask in the forward or not.

    python benchmarks/inference_latency.py [--model minilm] [--repeats 20]

For each ratio triple (the balanced points at 2.5x, 5x, 7.5x and 10x by default) the teacher is
compressed in place without training (latency depends on shapes and layer kinds, not on the
trained values) and timed with ``measure_latency`` (median of ``--repeats`` forward passes of 64
tokens, batch 1 and 32). Two variants of the student: ``eval`` is the shipped forward (pruned
values are stored as 0 and the eval-mode forward uses them directly); ``mask per call`` multiplies
every weight by its mask on each call, as the forward did before. Prints a table.
"""

from __future__ import annotations

import argparse
import copy
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import torch
from torch import Tensor

from ladasearch.compression.accounting import parameter_groups
from ladasearch.compression.evaluate import measure_latency
from ladasearch.compression.layers import _Prunable
from ladasearch.compression.plan import compress_
from ladasearch.models import load_classifier
from ladasearch.search.space import GroupSizes, balanced_points

FACTORS = (2.5, 5.0, 7.5, 10.0)


@contextmanager
def mask_per_call() -> Iterator[None]:
    """The previous forward: every masked tensor multiplied by its mask on each call."""
    original = _Prunable._effective

    def always(self: _Prunable, param: Tensor, mask: Tensor) -> Tensor:
        return param * mask

    _Prunable._effective = always  # type: ignore[method-assign]
    try:
        yield
    finally:
        _Prunable._effective = original  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    teacher, tokenizer = load_classifier(args.model, ["negative", "positive"])
    teacher.eval()
    sizes = GroupSizes.of(parameter_groups(teacher))

    def timed(model: torch.nn.Module) -> dict[int, float]:
        return measure_latency(
            model, tokenizer, torch.device("cpu"), repeats=args.repeats, warmup=3
        )

    rows = [("teacher (dense)", "-", timed(teacher), None)]
    for factor in FACTORS:
        (_, ratios), *_ = balanced_points(sizes, 1 / factor, 1 / factor)
        student = copy.deepcopy(teacher)
        compress_(student, ratios)
        with mask_per_call():
            before = timed(student)
        after = timed(student)
        label = f"{ratios.p_embd:.3f} / {ratios.p_svd:.3f} / {ratios.p_weight:.3f}"
        rows.append((f"{factor:g}x, mask per call", label, before, None))
        rows.append((f"{factor:g}x, eval (shipped)", label, after, before))
    print(
        f"# inference latency: {args.model}, 64 tokens, median of {args.repeats}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
        f"{date.today()}"
    )
    print(
        f"{'student':<28}{'P_embd / P_svd / P_weight':>28}{'batch 1 ms':>12}{'batch 32 ms':>13}"
        f"{'vs mask per call (b1, b32)':>30}"
    )
    for name, label, times, before in rows:
        gain = f"{before[1] / times[1]:.2f}x, {before[32] / times[32]:.2f}x" if before else ""
        print(f"{name:<28}{label:>28}{times[1]:>12.1f}{times[32]:>13.1f}{gain:>30}")


if __name__ == "__main__":
    main()

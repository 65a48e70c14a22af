"""Cost of one distillation step against one plain fine-tuning step of the same student.

    python benchmarks/distill_step_cost.py [--model minilm] [--batch-size 32] [--steps 8]

Both steps train the same compressed student (P_embd = P_svd = P_weight = 0.5 by default) on the
same batches of the offline `rt` task (dynamic padding). The plain step is the student's forward,
cross-entropy on the labels, backward and AdamW step; the distillation step adds the teacher's
forward pass (no grad), the student's hidden states and attention maps, and the four losses. The
teacher's forward pass alone is timed too: it is the floor of the difference. Two more variants
read the teacher's outputs from :class:`TeacherOutputCache` (filled beforehand, as every trial
after a study's first finds it): with the attention loss (the student then runs eager attention)
and without it (sdpa, like the plain step). The variants run interleaved, batch by batch (each
batch runs all five, in an order that rotates), and the table gives median seconds per step.

    python benchmarks/distill_step_cost.py --device cuda
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time
from datetime import date

import torch

from ladasearch.compression.attention import attention_kernel
from ladasearch.compression.distill import LossWeights, distillation_losses, reapply_masks_
from ladasearch.compression.plan import compress_
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.teacher_outputs import TeacherOutputCache
from ladasearch.models import load_classifier
from ladasearch.tasks import TaskSpec, encode, load_task, make_loader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--steps", type=int, default=8, help="timed steps per variant (after 2 warm-up steps)"
    )
    parser.add_argument(
        "--ratios",
        type=float,
        nargs=3,
        default=(0.5, 0.5, 0.5),
        metavar=("P_EMBD", "P_SVD", "P_WEIGHT"),
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    args = parser.parse_args()
    torch.manual_seed(0)
    device = torch.device(args.device)
    task = load_task(TaskSpec("rt"))
    teacher, tokenizer = load_classifier(args.model, task.label_names)
    teacher.to(device).eval()
    student = copy.deepcopy(teacher)
    compress_(student, Ratios(*args.ratios))
    loader = make_loader(encode(task.train, tokenizer, 128), args.batch_size, shuffle=True, seed=0)
    batches = [
        {k: v.to(device) for k, v in b.items()}
        for _, b in zip(range(args.steps + 2), loader, strict=False)
    ]
    cache = TeacherOutputCache(None, max_bytes=1 << 40)
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-5)

    def plain(batch: dict[str, torch.Tensor]) -> None:
        with attention_kernel(student, "sdpa"):
            out = student(**batch)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        reapply_masks_(student)

    def distill(batch: dict[str, torch.Tensor]) -> None:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        with torch.inference_mode():
            t_out = teacher(**inputs, output_hidden_states=True, output_attentions=True)
        s_out = student(**inputs, output_hidden_states=True, output_attentions=True)
        loss = distillation_losses(s_out, t_out, inputs["attention_mask"], LossWeights(), 1.0)[
            "total"
        ]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        reapply_masks_(student)

    def cached(batch: dict[str, torch.Tensor], attention: bool) -> None:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        t_out = cache.outputs(teacher, inputs, attention)
        weights = LossWeights(attention=1.0 if attention else 0.0)
        with attention_kernel(student, "eager" if attention else "sdpa"):
            s_out = student(**inputs, output_hidden_states=True, output_attentions=attention)
        loss = distillation_losses(
            s_out, t_out, inputs["attention_mask"], weights, 1.0, layer_average=True
        )["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        reapply_masks_(student)

    for batch in batches:  # fill the cache, as a study's first trial does
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        cache.outputs(teacher, inputs, True)
        cache.outputs(teacher, inputs, False)

    def teacher_forward(batch: dict[str, torch.Tensor]) -> None:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        with torch.inference_mode():
            teacher(**inputs, output_hidden_states=True, output_attentions=True)

    student.train()
    variants = {
        "plain fine-tuning step": plain,
        "distillation step": distill,
        "distill, cached teacher": lambda b: cached(b, True),
        "  same, no attention loss": lambda b: cached(b, False),
        "teacher forward": teacher_forward,
    }
    # Interleaved: every batch runs every variant, in an order that rotates by one each batch,
    # so a slow spell on a shared machine lands on all variants alike (A/B/C/D/E, B/C/D/E/A, ...).
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for i, batch in enumerate(batches):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = time.perf_counter()
            variants[name](batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= 2:  # the first two batches warm up every variant
                times[name].append(time.perf_counter() - start)
    results = {name: statistics.median(values) for name, values in times.items()}
    plain_s = results["plain fine-tuning step"]
    print(
        f"# distillation step cost: {args.model}, batch {args.batch_size}, ratios {tuple(args.ratios)}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, {date.today()}"
    )
    print(f"{'variant':<26}{'median s/step':>15}{'vs plain':>10}")
    for name, seconds in results.items():
        print(f"{name:<26}{seconds:>15.3f}{seconds / plain_s:>9.2f}x")
    floor = (plain_s + results["teacher forward"]) / plain_s
    print(f"floor (plain + teacher forward): {floor:.2f}x; target with the cache: at most 1.10x")


if __name__ == "__main__":
    main()

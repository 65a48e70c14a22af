"""Is a pair task learnable at all? A cheap word-feature logistic regression, before any teacher.

    python -m benchmarks.pair_learnable --data DIR [--tasks ...] [--out FILE.jsonl]

A teacher that stays on the majority class may be a bad recipe or a task that its training set
cannot teach. This baseline separates the two in seconds on a CPU: a logistic regression on
hashed word features of both segments — the words of each, the words they share, the words only
one has, and every (first word, second word) cross pair (so "review word x claim word" relations
are reachable) — trained by full-batch L-BFGS on the training split, its L2 penalty chosen on dev, scored
on test against the majority class (exact one-sided McNemar, :mod:`ladasearch.stats`). A task
where this does not beat the majority class is not used to judge a teacher recipe.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from ladasearch.stats import majority_check
from ladasearch.tasks import Example

__all__ = ["BUCKETS", "features", "fit_and_score", "main"]

BUCKETS = 1 << 18
_WORD = re.compile(r"[a-z0-9]+|n't")


def _words(text: str | None) -> list[str]:
    return _WORD.findall((text or "").lower())


def features(example: Example) -> list[int]:
    """Hashed feature ids of one pair (a bag: repeats count)."""
    a, b = _words(example.text), _words(example.text_pair)
    sa, sb = set(a), set(b)
    names = [f"a:{w}" for w in a] + [f"b:{w}" for w in b]
    names += [f"both:{w}" for w in sa & sb] + [f"aonly:{w}" for w in sa - sb]
    names += [f"bonly:{w}" for w in sb - sa] + [f"x:{u}|{v}" for u in sa for v in sb]
    jaccard = len(sa & sb) / max(1, len(sa | sb))
    names.append(f"jaccard:{round(10 * jaccard)}")
    return [zlib.crc32(name.encode()) % BUCKETS for name in names] or [0]


def _bags(examples: Sequence[Example]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids = [features(e) for e in examples]
    flat = torch.tensor([i for row in ids for i in row], dtype=torch.long)  # (total,)
    offsets = torch.tensor([0, *torch.tensor([len(r) for r in ids]).cumsum(0)[:-1].tolist()])
    labels = torch.tensor([e.label for e in examples], dtype=torch.long)  # (n,)
    return flat, offsets, labels


_Model = tuple[torch.nn.EmbeddingBag, torch.Tensor]  # hashed feature weights, bias


def _train(
    train: tuple[torch.Tensor, torch.Tensor, torch.Tensor], classes: int, penalty: float
) -> _Model:
    """Full-batch L-BFGS on cross-entropy + ``penalty * ||W||^2``: a plain L2 logistic
    regression (per-feature adaptive steps such as Adam's memorise the rare cross pairs)."""
    model = torch.nn.EmbeddingBag(BUCKETS, classes, mode="sum")
    torch.nn.init.zeros_(model.weight)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [model.weight, bias], max_iter=40, history_size=10, line_search_fn="strong_wolfe"
    )
    flat, offsets, labels = train

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = model(flat, offsets) + bias  # (n, classes)
        loss = F.cross_entropy(logits, labels) + penalty * model.weight.pow(2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimizer.step(closure)  # type: ignore[no-untyped-call]
    return model, bias.detach()


def _predict(model: _Model, split: tuple[torch.Tensor, ...]) -> list[int]:
    with torch.no_grad():
        return (model[0](split[0], split[1]) + model[1]).argmax(-1).tolist()  # type: ignore[no-any-return]


def fit_and_score(
    train: Sequence[Example],
    dev: Sequence[Example],
    test: Sequence[Example],
    classes: int = 2,
    penalties: Sequence[float] = (1e-5, 1e-4),
) -> dict[str, Any]:
    """Train at each L2 penalty, keep the best on dev, score test against the majority."""
    splits = [_bags(part) for part in (train, dev, test)]
    train_labels = splits[0][2].tolist()
    best: tuple[float, float, _Model] | None = None
    for penalty in penalties:
        model = _train(splits[0], classes, penalty)
        dev_check = majority_check(_predict(model, splits[1]), splits[1][2].tolist(), train_labels)
        if best is None or dev_check.accuracy > best[0]:
            best = (dev_check.accuracy, penalty, model)
    assert best is not None
    test_check = majority_check(_predict(best[2], splits[2]), splits[2][2].tolist(), train_labels)
    return {"dev_accuracy": best[0], "l2_penalty": best[1], "test": test_check.to_dict()}


def truncation(examples: Sequence[Example], tokenizer: Any, max_length: int) -> dict[str, float]:
    """How a pair encoding at ``max_length`` cuts these pairs: median tokens of each segment,
    the share of pairs cut, and the mean share of the second segment that survives
    (``longest_first`` truncation cuts the longer segment first)."""
    a = [len(tokenizer(e.text, add_special_tokens=False)["input_ids"]) for e in examples]
    b = [len(tokenizer(e.text_pair or "", add_special_tokens=False)["input_ids"]) for e in examples]
    encoded = tokenizer(
        [e.text for e in examples],
        [e.text_pair or "" for e in examples],
        truncation=True,
        max_length=max_length,
    )
    kept = [sum(types) - 1 for types in encoded["token_type_ids"]]  # second segment, less [SEP]
    return {
        "tokens_first_median": float(statistics.median(a)),
        "tokens_second_median": float(statistics.median(b)),
        "cut": sum(x + y + 3 > max_length for x, y in zip(a, b, strict=True)) / len(examples),
        "second_kept": statistics.mean(
            min(1.0, k / y) if y else 1.0 for k, y in zip(kept, b, strict=True)
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Score every task; print one JSON line each (and append them to ``--out``)."""
    from benchmarks.pair_tasks import PAIR_TASKS, load_pair_task

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pair_learnable", description=__doc__
    )
    parser.add_argument("--data", type=Path, required=True, help="the CSVs of pair_tasks")
    parser.add_argument("--tasks", nargs="+", default=list(PAIR_TASKS))
    parser.add_argument("--out", type=Path, default=None, help="append the JSON lines here")
    parser.add_argument(
        "--truncation",
        metavar="MODEL",
        default=None,
        help="instead of the baseline: how MODEL's tokenizer cuts 1,000 training pairs at 64",
    )
    args = parser.parse_args(argv)
    for name in args.tasks:
        task = load_pair_task(args.data, name)
        if args.truncation is not None:
            from transformers import AutoTokenizer

            from ladasearch.models import resolve_model_source

            tokenizer = AutoTokenizer.from_pretrained(resolve_model_source(args.truncation))
            row: dict[str, Any] = {"task": name, "model": args.truncation, "max_length": 64}
            row |= truncation(task.train[:1000], tokenizer, 64)
        else:
            row = {"task": name, "model": "word-feature logistic regression"}
            row |= fit_and_score(task.train, task.dev, task.test, len(task.label_names))
        line = json.dumps(row)
        print(line, flush=True)
        if args.out is not None:
            with args.out.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Tokenize once, batch with dynamic padding.

:func:`encode` tokenizes a split once (truncated, unpadded); :func:`make_loader` pads each batch
only to its own longest sequence, which roughly halves the cost of short-sentence tasks compared
with padding everything to ``max_length``. :func:`fixed_length_batch` builds a batch of fixed shape
for latency measurements.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ladasearch.tasks._base import Example

__all__ = ["EncodedSplit", "encode", "fixed_length_batch", "make_loader"]


@dataclass(frozen=True)
class EncodedSplit:
    """A tokenized split: one unpadded id list per example, plus labels.

    ``token_type_ids`` is ``None`` when the tokenizer does not produce them (e.g. DistilBERT).
    """

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    labels: list[int]
    pad_token_id: int

    def __len__(self) -> int:
        return len(self.labels)


def _tokenize(
    tokenizer: Any, texts: list[str], pairs: list[str] | None, max_length: int
) -> dict[str, list[list[int]]]:
    encoded = tokenizer(
        texts, pairs, truncation=True, max_length=max_length, padding=False, return_tensors=None
    )
    return {key: list(encoded[key]) for key in ("input_ids", "token_type_ids") if key in encoded}


def encode(examples: Sequence[Example], tokenizer: Any, max_length: int = 128) -> EncodedSplit:
    """Tokenize ``examples`` (sentences or sentence pairs) once, truncated to ``max_length``."""
    n = len(examples)
    input_ids: list[list[int]] = [[] for _ in range(n)]
    type_ids: list[list[int]] | None = [[] for _ in range(n)]
    # Pair and single examples are tokenized in separate calls (a call takes all or no pairs).
    groups = (
        [i for i, e in enumerate(examples) if e.text_pair is None],
        [i for i, e in enumerate(examples) if e.text_pair is not None],
    )
    for is_pair, indices in enumerate(groups):
        if not indices:
            continue
        texts = [examples[i].text for i in indices]
        pairs = [str(examples[i].text_pair) for i in indices] if is_pair else None
        encoded = _tokenize(tokenizer, texts, pairs, max_length)
        for j, i in enumerate(indices):
            input_ids[i] = encoded["input_ids"][j]
        if type_ids is not None and "token_type_ids" in encoded:
            for j, i in enumerate(indices):
                type_ids[i] = encoded["token_type_ids"][j]
        else:
            type_ids = None
    pad = tokenizer.pad_token_id
    return EncodedSplit(
        input_ids=input_ids,
        token_type_ids=type_ids,
        labels=[e.label for e in examples],
        pad_token_id=int(pad) if pad is not None else 0,
    )


class _Indices(Dataset[int]):
    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> int:
        return index


def _pad(rows: list[list[int]], length: int, value: int) -> torch.Tensor:
    out = torch.full((len(rows), length), value, dtype=torch.long)  # (batch, seq)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


class _Collate:
    """Pads the chosen examples to the batch's longest sequence (right padding)."""

    def __init__(self, encoded: EncodedSplit, with_index: bool = False) -> None:
        self.encoded = encoded
        self.with_index = with_index

    def __call__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        enc = self.encoded
        ids = [enc.input_ids[i] for i in indices]
        length = max(len(row) for row in ids)
        batch = {
            "input_ids": _pad(ids, length, enc.pad_token_id),  # (batch, seq)
            "attention_mask": _pad([[1] * len(row) for row in ids], length, 0),  # (batch, seq)
        }
        if enc.token_type_ids is not None:
            batch["token_type_ids"] = _pad([enc.token_type_ids[i] for i in indices], length, 0)
        batch["labels"] = torch.tensor([enc.labels[i] for i in indices], dtype=torch.long)
        if self.with_index:
            batch["index"] = torch.tensor(indices, dtype=torch.long)  # (batch,) split positions
        return batch


class _LengthGroupedBatches:
    """Shuffled batches of similar length (as transformers' ``group_by_length``).

    Every pass draws a seeded permutation, cuts it into pools of ``POOL`` batches, sorts each pool
    by length, splits it into batches and shuffles the batch order: batches stay random but hold
    sentences of similar length, so dynamic padding pads little.
    """

    POOL = 32

    def __init__(self, lengths: list[int], batch_size: int, seed: int, drop_last: bool) -> None:
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        pool = self.batch_size * self.POOL
        batches: list[list[int]] = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start : start + pool], key=lambda i: self.lengths[i], reverse=True)
            batches.extend(
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            )
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        for index in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[index]


def make_loader(
    encoded: EncodedSplit,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    drop_last: bool = False,
    sort_by_length: bool = False,
) -> DataLoader[Any]:
    """A DataLoader of dicts ``input_ids``, ``attention_mask`` [, ``token_type_ids``], ``labels``.

    Each batch is padded to its own longest sequence. With ``shuffle``, batches are drawn from a
    generator seeded with ``seed`` (pass k uses ``seed + k``), grouped by length so that little
    padding is computed, and a fresh loader replays the same batches. Without it, the order is the
    split's own, unless ``sort_by_length`` (for evaluation): then batches hold examples sorted by
    length (longest first) and carry ``index`` (batch,), each example's position in the split, so
    that predictions can be put back in split order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if sort_by_length and not shuffle:
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded.input_ids[i]))
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        if drop_last:
            chunks = [chunk for chunk in chunks if len(chunk) == batch_size]
        return DataLoader(
            _Indices(len(encoded)),
            batch_sampler=chunks,
            collate_fn=_Collate(encoded, with_index=True),
        )
    if shuffle:
        lengths = [len(row) for row in encoded.input_ids]
        return DataLoader(
            _Indices(len(encoded)),
            batch_sampler=_LengthGroupedBatches(lengths, batch_size, seed, drop_last),
            collate_fn=_Collate(encoded),
        )
    return DataLoader(
        _Indices(len(encoded)),
        batch_size=batch_size,
        shuffle=False,
        drop_last=drop_last,
        collate_fn=_Collate(encoded),
    )


def fixed_length_batch(tokenizer: Any, batch_size: int, seq_len: int) -> dict[str, torch.Tensor]:
    """A batch of shape ``(batch_size, seq_len)`` with no padding, for latency measurement."""
    encoded = tokenizer(
        " ".join(["the"] * seq_len),  # at least seq_len tokens, truncated to exactly seq_len
        truncation=True,
        max_length=seq_len,
        padding="max_length",
        return_tensors="pt",
    )
    return {
        key: value.repeat(batch_size, 1)  # (batch, seq)
        for key, value in encoded.items()
        if key in ("input_ids", "attention_mask", "token_type_ids")
    }

"""Use a compressed classifier in one call: ``ladasearch.load(path)("a great movie")``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ladasearch.compression.serialize import load_compressed
from ladasearch.device import resolve_device
from ladasearch.errors import DataError, ModelError

__all__ = ["CompressedClassifier", "Prediction", "load"]


@dataclass(frozen=True)
class Prediction:
    """One text's prediction: the top label, its softmax probability, and every label's."""

    label: str
    score: float
    probabilities: dict[str, float]


class CompressedClassifier:
    """A compressed sequence classifier with its tokenizer, ready to ``predict`` texts."""

    def __init__(self, model: nn.Module, tokenizer: Any, metadata: dict[str, Any]) -> None:
        if tokenizer is None:
            raise ModelError("a CompressedClassifier needs a tokenizer; the folder has none")
        self.model = model
        self.tokenizer = tokenizer
        self.metadata = metadata
        config: Any = model.config
        self.labels: list[str] = [str(config.id2label[i]) for i in range(config.num_labels)]
        base = getattr(config, "base_config", None) or {}  # an export's runtime config
        positions = getattr(config, "max_position_embeddings", base.get("max_position_embeddings"))
        limits = [tokenizer.model_max_length, positions]
        self._max_length = min(int(x) for x in limits if isinstance(x, int | float) and x > 0)

    @property
    def device(self) -> torch.device:
        """Where the model's parameters live."""
        return next(self.model.parameters()).device

    def predict(
        self,
        texts: str | Sequence[str],
        text_pairs: str | Sequence[str] | None = None,
        batch_size: int = 32,
    ) -> list[Prediction]:
        """Classify ``texts`` (optionally paired with ``text_pairs``), one ``Prediction`` each."""
        singles = [texts] if isinstance(texts, str) else list(texts)
        pairs = None
        if text_pairs is not None:
            pairs = [text_pairs] if isinstance(text_pairs, str) else list(text_pairs)
            if len(pairs) != len(singles):
                raise DataError(f"{len(singles)} texts but {len(pairs)} text_pairs")
        if batch_size < 1:
            raise DataError(f"batch_size must be at least 1, got {batch_size}")
        predictions: list[Prediction] = []
        for start in range(0, len(singles), batch_size):
            batch = singles[start : start + batch_size]
            batch_pairs = pairs[start : start + batch_size] if pairs is not None else None
            predictions.extend(self._predict_batch(batch, batch_pairs))
        return predictions

    __call__ = predict

    @torch.inference_mode()
    def _predict_batch(self, texts: list[str], pairs: list[str] | None) -> list[Prediction]:
        encoded = self.tokenizer(
            texts,
            pairs,
            padding=True,
            truncation=True,
            max_length=self._max_length,
            return_tensors="pt",
        ).to(self.device)
        logits = self.model(**encoded).logits  # (batch, labels)
        probabilities = logits.float().softmax(dim=-1).cpu()  # (batch, labels)
        results = []
        for row in probabilities.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            named = dict(zip(self.labels, row, strict=True))
            results.append(Prediction(self.labels[best], row[best], named))
        return results


def load(path: str | Path, device: str = "auto") -> CompressedClassifier:
    """Load a folder written by ``save_compressed`` onto ``device`` (auto / cpu / cuda[:N])."""
    model, tokenizer, metadata = load_compressed(path, device=resolve_device(device))
    return CompressedClassifier(model, tokenizer, metadata)

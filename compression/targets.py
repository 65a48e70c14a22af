"""Find what to compress by module type and name pattern, never by hard-coded BERT paths.

One regular expression over fully qualified names (fqn) addresses the encoder of BERT, RoBERTa,
ELECTRA (``<prefix>.encoder.layer.<i>.``) and DistilBERT (``distilbert.transformer.layer.<i>.``);
pooler, classifier and ELECTRA's ``embeddings_project`` never match it.
"""

from __future__ import annotations

import re

from torch import nn

from ladasearch.compression.layers import FactorizedEmbedding, FactorizedLinear, MaskedLinear
from ladasearch.errors import ModelError

__all__ = [
    "DEFAULT_ENCODER_PATTERN",
    "LINEAR_TYPES",
    "EmbeddingLike",
    "LinearLike",
    "encoder_linears",
    "replace_module",
    "word_embedding",
]

DEFAULT_ENCODER_PATTERN = r"(^|\.)(encoder|transformer)\.(layer|layers)\.\d+\."

# A linear layer or word embedding, dense or already compressed by this package.
LinearLike = nn.Linear | MaskedLinear | FactorizedLinear
EmbeddingLike = nn.Embedding | FactorizedEmbedding
LINEAR_TYPES = (nn.Linear, MaskedLinear, FactorizedLinear)


def encoder_linears(
    model: nn.Module, pattern: str = DEFAULT_ENCODER_PATTERN
) -> list[tuple[str, LinearLike]]:
    """``(fqn, module)`` of every linear layer (see ``LINEAR_TYPES``) whose fqn matches ``pattern``.

    Matching uses ``re.search``, in ``named_modules()`` order.
    """
    regex = re.compile(pattern)
    return [
        (fqn, module)
        for fqn, module in model.named_modules()
        if isinstance(module, LINEAR_TYPES) and regex.search(fqn)
    ]


def word_embedding(model: nn.Module) -> tuple[str, EmbeddingLike]:
    """``(fqn, module)`` of the word embedding, found through ``model.get_input_embeddings()``."""
    getter = getattr(model, "get_input_embeddings", None)
    embedding = getter() if callable(getter) else None
    if not isinstance(embedding, EmbeddingLike):
        raise ModelError(f"{type(model).__name__} has no word embedding (get_input_embeddings)")
    for fqn, module in model.named_modules():
        if module is embedding:
            return fqn, embedding
    raise ModelError(f"the input embedding of {type(model).__name__} is not one of its modules")


def replace_module(model: nn.Module, fqn: str, new_module: nn.Module) -> None:
    """Put ``new_module`` at ``fqn``, moved to the device and floating dtype of the old one."""
    parent_name, _, child_name = fqn.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, child_name, None)
    if not isinstance(old, nn.Module):
        raise ModelError(f"{type(model).__name__} has no module named {fqn!r}")
    reference = next(old.parameters(), None)
    if reference is not None:
        new_module.to(device=reference.device, dtype=reference.dtype)
    setattr(parent, child_name, new_module)

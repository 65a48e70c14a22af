"""The compressed layer kinds, in one registry, and the one walk over a model's compressed layers.

Three kinds, each named once and used under that name everywhere (the saved layout, the runtime
layout, the export's configuration, the plan's records):

- ``factorized``: :class:`FactorizedLinear`, an encoder ``nn.Linear`` as masked factors;
- ``masked``: :class:`MaskedLinear`, an encoder ``nn.Linear`` kept dense, masked;
- ``factorized_embedding``: :class:`FactorizedEmbedding`, the word embedding as two factors.

Code that must treat kinds differently asks :func:`kind_of` (or walks with
:func:`compressed_layers`) and reads the :class:`LayerKind`'s fields, instead of testing layer
classes itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from torch import nn

from ladasearch.compression.layers import FactorizedEmbedding, FactorizedLinear, MaskedLinear

__all__ = [
    "FACTORIZED",
    "FACTORIZED_EMBEDDING",
    "KINDS",
    "MASKED",
    "CompressedLayer",
    "LayerKind",
    "compressed_layers",
    "kind_of",
]


@dataclass(frozen=True)
class LayerKind:
    """One kind of compressed layer: its name, its class, and what the other modules ask of it."""

    name: str
    layer: type[nn.Module]
    linear: bool  # replaces an encoder nn.Linear (else the word embedding)
    factorized: bool  # holds a rank-r factorization (``rank``); else a dense masked matrix
    prunable: bool  # holds masks (``masked_parameters``, ``apply_masks_``, ``MASKED``)
    build: Callable[[dict[str, Any]], nn.Module]  # an empty (zero) layer from its layout spec

    def shape(self, module: Any) -> tuple[int, int]:
        """The dense matrix's (m, n): (out, in) of a linear, (V, d) of the embedding."""
        if self.linear:
            return int(module.out_features), int(module.in_features)
        return int(module.num_embeddings), int(module.embedding_dim)

    def rank(self, module: Any) -> int | None:
        """The factorization's rank, ``None`` for a dense (masked) matrix."""
        return int(module.rank) if self.factorized else None

    def spec(self, module: Any) -> dict[str, Any]:
        """The layer's saved-layout entry: ``kind``, ``shape``, ``rank`` and ``bias`` /
        ``padding_idx`` (what :attr:`build` needs to rebuild it empty)."""
        spec: dict[str, Any] = {
            "kind": self.name,
            "shape": list(self.shape(module)),
            "rank": self.rank(module),
        }
        if self.linear:
            spec["bias"] = module.bias is not None
        else:
            spec["padding_idx"] = module.padding_idx
        return spec

    def counts(self, module: Any) -> tuple[int, int]:
        """(nonzero, stored) entries of the matrix (biases excluded): kept weights, and the
        entries of its stored tensors (factors or the dense weight)."""
        if self.prunable:
            return int(module.nonzero_count(include_bias=False)), int(module.stored_count())
        count = int(module.nonzero_count())
        return count, count


def _factorized(spec: dict[str, Any]) -> nn.Module:
    rows, cols = spec["shape"]
    return FactorizedLinear(cols, rows, int(spec.get("rank") or 0), bias=spec["bias"])


def _masked(spec: dict[str, Any]) -> nn.Module:
    rows, cols = spec["shape"]
    return MaskedLinear(cols, rows, bias=spec["bias"])


def _embedding(spec: dict[str, Any]) -> nn.Module:
    rows, cols = spec["shape"]
    return FactorizedEmbedding(
        rows, cols, int(spec.get("rank") or 0), padding_idx=spec.get("padding_idx")
    )


FACTORIZED = LayerKind("factorized", FactorizedLinear, True, True, True, _factorized)
MASKED = LayerKind("masked", MaskedLinear, True, False, True, _masked)
FACTORIZED_EMBEDDING = LayerKind(
    "factorized_embedding", FactorizedEmbedding, False, True, False, _embedding
)
KINDS: dict[str, LayerKind] = {k.name: k for k in (FACTORIZED, MASKED, FACTORIZED_EMBEDDING)}
"""Every kind by name."""

_BY_CLASS = {kind.layer: kind for kind in KINDS.values()}


def kind_of(module: nn.Module) -> LayerKind | None:
    """The kind of ``module``, or ``None`` for anything that is not a compressed layer."""
    return _BY_CLASS.get(type(module))


class CompressedLayer(NamedTuple):
    """One compressed layer of a model: its fully qualified name, the module and its kind."""

    fqn: str
    module: Any  # the kind's layer class (typed Any: its methods are what the kind promises)
    kind: LayerKind


def compressed_layers(model: nn.Module) -> Iterator[CompressedLayer]:
    """Every compressed layer of ``model``, in ``named_modules`` order: the one layout walk."""
    for fqn, module in model.named_modules():
        kind = kind_of(module)
        if kind is not None:
            yield CompressedLayer(fqn, module, kind)

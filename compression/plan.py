"""The one verb: ``compress_(model, ratios)`` applies LadaBERT's hybrid compression in place.

The word embedding is factorized at rank k(P_embd); each encoder linear is factorized at rank
r(P_svd) (or kept dense as a ``MaskedLinear`` when P_svd = 1) and its factors pruned to P_weight
(eq. 1-6). Called again on a compressed model (the iterative schedule) the change is gradual:
a matrix whose rank does not change keeps its factors; one whose rank goes down keeps its
strongest rank-1 components with their values and masks (``FactorizedLinear.shrink``); then
each is pruned further among the entries its masks still keep, so masks only grow. The word
embedding is re-truncated through the SVD of its current product (it is never pruned). Ranks may
only go down. ``factorizer`` chooses how a dense matrix is first factorized (plain SVD by default,
or a data-aware one from :mod:`ladasearch.compression.factorize`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from ladasearch.compression.accounting import embedding_rank, encoder_rank
from ladasearch.compression.factorize import Factorizer
from ladasearch.compression.kinds import KINDS, compressed_layers, kind_of
from ladasearch.compression.layers import FactorizedEmbedding, FactorizedLinear, MaskedLinear
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.targets import (
    DEFAULT_ENCODER_PATTERN,
    EmbeddingLike,
    LinearLike,
    encoder_linears,
    replace_module,
    word_embedding,
)
from ladasearch.errors import ModelError, RatioError

__all__ = [
    "LAYOUT_VERSION",
    "CompressionRecord",
    "MatrixRecord",
    "apply_layout_",
    "compress_",
    "compression_layout",
]

LAYOUT_VERSION = 1


@dataclass(frozen=True)
class MatrixRecord:
    """One compressed matrix: its dense shape (m, n), what it became, what it keeps.

    ``kind`` is ``"factorized"``, ``"masked"`` or ``"dense"``; ``kept`` the weight entries not
    pruned (bias excluded); ``sparsity`` the pruned share of the stored factor entries.
    """

    fqn: str
    shape: tuple[int, int]
    kind: str
    rank: int | None
    kept: int
    sparsity: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "fqn": self.fqn,
            "shape": list(self.shape),
            "kind": self.kind,
            "rank": self.rank,
            "kept": self.kept,
            "sparsity": self.sparsity,
        }


@dataclass(frozen=True)
class CompressionRecord:
    """What ``compress_`` did: the ratios, the embedding and every encoder matrix."""

    ratios: Ratios
    embedding: MatrixRecord
    matrices: tuple[MatrixRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "ratios": self.ratios.to_dict(),
            "embedding": self.embedding.to_dict(),
            "matrices": [record.to_dict() for record in self.matrices],
        }


def compress_(
    model: nn.Module,
    ratios: Ratios,
    *,
    pattern: str = DEFAULT_ENCODER_PATTERN,
    factorizer: Factorizer | None = None,
) -> CompressionRecord:
    """Compress ``model`` in place to ``ratios``; returns a record of each matrix.

    Raises ``RatioError`` if the ratios would raise a rank of an already compressed matrix.
    """
    if not isinstance(ratios, Ratios):
        raise TypeError(f"ratios must be a Ratios, got {type(ratios).__name__}")
    embedding_fqn, embedding = word_embedding(model)
    new_embedding = _compress_embedding(embedding_fqn, embedding, ratios.p_embd)
    if new_embedding is not embedding:
        replace_module(model, embedding_fqn, new_embedding)
    records = []
    factorizer = factorizer or Factorizer()
    for fqn, module in encoder_linears(model, pattern):
        new = _compress_linear(fqn, module, ratios, factorizer)
        if new is not module:
            replace_module(model, fqn, new)
        records.append(_linear_record(fqn, new))
    embedding_record = _embedding_record(embedding_fqn, new_embedding)
    return CompressionRecord(ratios, embedding_record, tuple(records))


def _compress_embedding(fqn: str, embedding: EmbeddingLike, p_embd: float) -> EmbeddingLike:
    rank = embedding_rank(embedding.num_embeddings, embedding.embedding_dim, p_embd)
    current = embedding.rank if isinstance(embedding, FactorizedEmbedding) else None
    if rank is None:
        if current is not None:
            raise _rank_up(fqn, current, "dense", "p_embd", p_embd)
        return embedding
    if current is not None and rank > current:
        raise _rank_up(fqn, current, rank, "p_embd", p_embd)
    if current == rank:
        return embedding  # unchanged: keep the (possibly trained) factors
    return FactorizedEmbedding.from_embedding(embedding, rank)


def _compress_linear(
    fqn: str, module: LinearLike, ratios: Ratios, factorizer: Factorizer
) -> LinearLike:
    rank = encoder_rank(module.out_features, module.in_features, ratios.p_svd)
    current = module.rank if isinstance(module, FactorizedLinear) else None
    if rank is None:
        if current is not None:
            raise _rank_up(fqn, current, "dense", "p_svd", ratios.p_svd)
        if isinstance(module, nn.Linear) and ratios.p_weight == 1.0:
            return module
        assert not isinstance(module, FactorizedLinear)
        masked = module if isinstance(module, MaskedLinear) else MaskedLinear.from_linear(module)
        masked.prune_(ratios.p_weight)
        return masked
    if current is not None and rank > current:
        raise _rank_up(fqn, current, rank, "p_svd", ratios.p_svd)
    if isinstance(module, FactorizedLinear):
        factorized = module
        if rank < module.rank:
            factorized = module.shrink(
                rank, factorizer.row_scale(fqn), factorizer.column_transform(fqn)
            )
    else:

        def factorize(weight: Tensor, r: int) -> tuple[Tensor, Tensor]:
            return factorizer.factors(fqn, weight, r)

        factorized = FactorizedLinear.from_linear(module, rank, factorize)
    factorized.prune_(ratios.p_weight)
    return factorized


def _rank_up(fqn: str, current: int, wanted: int | str, name: str, value: float) -> RatioError:
    return RatioError(
        f"{name}={value:g} would raise the rank of {fqn} from {current} to {wanted}: "
        "ranks may only go down"
    )


def _linear_record(fqn: str, module: LinearLike) -> MatrixRecord:
    kind = kind_of(module)
    if kind is None:
        shape = (int(module.out_features), int(module.in_features))
        return MatrixRecord(fqn, shape, "dense", None, shape[0] * shape[1], 0.0)
    kept, stored = kind.counts(module)
    return MatrixRecord(fqn, kind.shape(module), kind.name, kind.rank(module), kept, 1 - kept / stored)


def _embedding_record(fqn: str, module: EmbeddingLike) -> MatrixRecord:
    kind = kind_of(module)
    if kind is None:
        shape = (int(module.num_embeddings), int(module.embedding_dim))
        return MatrixRecord(fqn, shape, "dense", None, shape[0] * shape[1], 0.0)
    kept, _ = kind.counts(module)
    return MatrixRecord(fqn, kind.shape(module), "factorized", kind.rank(module), kept, 0.0)


def compression_layout(model: nn.Module) -> dict[str, Any]:
    """The compressed structure of ``model`` (JSON-able), found by module type anywhere in it.

    ``{"version": 1, "modules": {fqn: {"kind", "shape": [m, n], "rank", ...}}}`` with kind
    ``"factorized"`` / ``"masked"`` (linears, plus ``"bias"``) or ``"factorized_embedding"``
    (plus ``"padding_idx"``). ``apply_layout_`` rebuilds these modules on a fresh model.
    """
    modules = {layer.fqn: layer.kind.spec(layer.module) for layer in compressed_layers(model)}
    return {"version": LAYOUT_VERSION, "modules": modules}


def apply_layout_(model: nn.Module, layout: dict[str, Any]) -> None:
    """Swap in empty (zero) compressed modules as ``layout`` describes, ready for a state dict."""
    if layout.get("version") != LAYOUT_VERSION:
        raise ModelError(f"unsupported compression layout version {layout.get('version')!r}")
    for fqn, spec in layout["modules"].items():
        try:
            model.get_submodule(fqn)
        except AttributeError as exc:
            raise ModelError(f"the layout names {fqn!r}, which this model does not have") from exc
        replace_module(model, fqn, _empty_module(spec))


def _empty_module(spec: dict[str, Any]) -> nn.Module:
    kind = KINDS.get(spec.get("kind"))  # type: ignore[arg-type]
    if kind is None:
        raise ModelError(f"unknown compressed module kind {spec.get('kind')!r} in the layout")
    return kind.build(spec)

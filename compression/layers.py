"""Compressed stand-ins for ``nn.Linear`` and the word ``nn.Embedding`` (LadaBERT eq. 1-5).

``nn.Linear`` stores ``W`` as (out=m, in=n). Each module here can always rebuild its dense
equivalent (``dense_weight()``, ``to_dense()``), so "compressed equals reference" is testable.

Pruning contract (eq. 5): a mask is a boolean buffer beside the tensor it prunes; pruned stored
values are set to 0 and the forward pass multiplies by the mask, so their gradient is 0 and they
stay exactly 0 through optimizer steps (AdamW weight decay included). ``apply_masks_()`` re-zeros
them in place for extra safety after a step. "Nonzero" counts are counts of entries *not removed
by a mask* (a kept weight that happens to be 0.0 still counts), biases included when asked.

Inference: switching a module to eval mode (``model.eval()``) re-zeros the pruned values once, and
the eval-mode forward then multiplies by the stored tensors directly. Multiplying by the mask on
every call costs an element-wise pass over each weight, which at batch 1 is as slow as the matrix
product itself; training mode keeps the mask in the forward pass (that is what zeros the gradient).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ladasearch.compression.matrix_ops import keep_count, magnitude_mask, svd_factors
from ladasearch.errors import RatioError

__all__ = [
    "FactorizedEmbedding",
    "FactorizedLinear",
    "MaskedLinear",
]


class _Prunable(nn.Module):
    """Shared pruning logic: ``MASKED`` names (parameter, mask buffer) pairs."""

    MASKED: tuple[tuple[str, str], ...] = ()
    bias: nn.Parameter | None

    def masked_parameters(self) -> Iterator[tuple[nn.Parameter, Tensor]]:
        """Each pruned parameter with its boolean mask buffer (same shape)."""
        for param_name, mask_name in self.MASKED:
            yield getattr(self, param_name), getattr(self, mask_name)

    def train(self, mode: bool = True) -> _Prunable:
        """Like ``nn.Module.train``; entering eval mode re-zeros the pruned values (see forward)."""
        if not mode:
            self.apply_masks_()
        return super().train(mode)

    def _effective(self, param: Tensor, mask: Tensor) -> Tensor:
        """``param * mask`` while training; ``param`` itself in eval mode (pruned entries are 0)."""
        return param * mask if self.training else param

    @torch.no_grad()
    def apply_masks_(self) -> None:
        """Set every pruned stored value back to exactly 0 (e.g. after an optimizer step)."""
        for param, mask in self.masked_parameters():
            param.mul_(mask)

    @torch.no_grad()
    def prune_(self, keep_fraction: float) -> None:
        """Magnitude pruning (eq. 5) of each masked tensor separately.

        Each keeps its ``round(keep_fraction * numel)`` (at least 1) largest-|w| entries among
        those its mask still keeps; everything else is masked and set to 0. Masks therefore only
        grow (a pruned entry stays pruned) while the kept count goes down; only when a tensor
        keeps fewer entries than asked (a rank cut dropped denser components) are pruned entries,
        which hold 0, taken back first in index order so that the count stays exact.
        """
        for param, mask in self.masked_parameters():
            keep = keep_count(param.numel(), keep_fraction)
            score = torch.where(mask, param.detach().abs().double(), -1.0)  # pruned rank last
            mask.copy_(magnitude_mask(score + 1.0, keep))
        self.apply_masks_()

    def nonzero_count(self, include_bias: bool = True) -> int:
        """Effective weights not removed by a mask, plus the bias entries if ``include_bias``."""
        count = sum(int(mask.sum()) for _, mask in self.masked_parameters())
        if include_bias and self.bias is not None:
            count += self.bias.numel()
        return count

    def stored_count(self) -> int:
        """Entries of the (masked) weight tensors, pruned or not; the bias excluded."""
        return sum(param.numel() for param, _ in self.masked_parameters())

    def dense_weight(self) -> Tensor:
        """The effective dense weight (out, in)."""
        raise NotImplementedError

    def to_dense(self) -> nn.Linear:
        """An ``nn.Linear`` with the same outputs (same device and dtype)."""
        weight = self.dense_weight().detach()  # (m, n)
        out_features, in_features = weight.shape
        linear = nn.Linear(
            in_features,
            out_features,
            bias=self.bias is not None,
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            linear.weight.copy_(weight)
            if self.bias is not None and linear.bias is not None:
                linear.bias.copy_(self.bias)
        return linear


class MaskedLinear(_Prunable):
    """A dense ``W`` (m, n) with a boolean mask: pure weight pruning (used when ``P_svd = 1``)."""

    MASKED = (("weight", "mask"),)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(
            torch.zeros(out_features, in_features, device=device, dtype=dtype)
        )
        self.bias = (
            nn.Parameter(torch.zeros(out_features, device=device, dtype=dtype)) if bias else None
        )
        self.mask: Tensor
        self.register_buffer(
            "mask", torch.ones(out_features, in_features, dtype=torch.bool, device=device)
        )

    @classmethod
    def from_linear(cls, linear: nn.Linear | MaskedLinear) -> MaskedLinear:
        """Wrap a dense linear (all kept); a ``MaskedLinear`` is copied with its mask."""
        weight = linear.weight
        module = cls(
            linear.in_features,
            linear.out_features,
            bias=linear.bias is not None,
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            module.weight.copy_(weight)
            if linear.bias is not None and module.bias is not None:
                module.bias.copy_(linear.bias)
            if isinstance(linear, MaskedLinear):
                module.mask.copy_(linear.mask)
        module.apply_masks_()
        return module

    @property
    def rank(self) -> int:
        """Full rank bound ``min(m, n)``: a masked layer is not factorized."""
        return min(self.in_features, self.out_features)

    def dense_weight(self) -> Tensor:
        return self.weight * self.mask  # (m, n)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(
            x, self._effective(self.weight, self.mask), self.bias
        )  # (..., n) -> (..., m)

    def extra_repr(self) -> str:
        kept = int(self.mask.sum())
        return f"in_features={self.in_features}, out_features={self.out_features}, kept={kept}"


class FactorizedLinear(_Prunable):
    """``W ~ (A * mask_a) @ (B * mask_b)`` with ``A`` (m, r), ``B`` (r, n): SVD then pruning."""

    MASKED = (("a", "mask_a"), ("b", "mask_b"))

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.a = nn.Parameter(torch.zeros(out_features, rank, device=device, dtype=dtype))
        self.b = nn.Parameter(torch.zeros(rank, in_features, device=device, dtype=dtype))
        self.bias = (
            nn.Parameter(torch.zeros(out_features, device=device, dtype=dtype)) if bias else None
        )
        self.mask_a: Tensor
        self.mask_b: Tensor
        self.register_buffer(
            "mask_a", torch.ones(out_features, rank, dtype=torch.bool, device=device)
        )
        self.register_buffer(
            "mask_b", torch.ones(rank, in_features, dtype=torch.bool, device=device)
        )

    @classmethod
    def from_linear(
        cls,
        linear: nn.Linear | MaskedLinear | FactorizedLinear,
        rank: int,
        factorize: Callable[[Tensor, int], tuple[Tensor, Tensor]] = svd_factors,
    ) -> FactorizedLinear:
        """Factorize the current effective dense weight at ``rank`` (all entries kept).

        Given a ``FactorizedLinear`` or ``MaskedLinear`` this is a re-truncation: the SVD of its
        current (masked) dense product. ``factorize(weight (m, n), rank)`` returns ``(A, B)``;
        plain SVD by default, a data-aware one from :mod:`ladasearch.compression.factorize`.
        """
        weight = linear.dense_weight() if isinstance(linear, _Prunable) else linear.weight
        a, b = factorize(weight, rank)  # (m, r), (r, n)
        module = cls(
            linear.in_features,
            linear.out_features,
            rank,
            bias=linear.bias is not None,
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            module.a.copy_(a)
            module.b.copy_(b)
            if linear.bias is not None and module.bias is not None:
                module.bias.copy_(linear.bias)
        return module

    @torch.no_grad()
    def shrink(
        self, rank: int, row_scale: Tensor | None = None, column_transform: Tensor | None = None
    ) -> FactorizedLinear:
        """A copy at a lower ``rank`` keeping the strongest components with their masks.

        Component i is the outer product of column ``a[:, i]`` and row ``b[i]``; its strength is
        ``||a_i * mask|| * ||b_i * mask||`` (on untouched SVD factors exactly the singular value,
        so this is then the truncated SVD). ``row_scale`` (m,) weights the rows of ``a`` in that
        norm (Fisher-weighted importance); ``column_transform`` (n, n) maps the rows of ``b`` first
        (``b @ L``, the whitened input space). Kept components carry their values and masks over, so
        the pruned structure survives the rank cut; ``prune_`` then prunes further.
        """
        if not 1 <= rank <= self.rank:
            raise RatioError(f"rank must be in [1, {self.rank}] to shrink, got {rank}")
        a = self.a * self.mask_a  # (m, r)
        if row_scale is not None:
            a = a * row_scale.to(a)[:, None]
        b = (self.b * self.mask_b).float()  # (r, n)
        if column_transform is not None:
            b = b @ column_transform.to(b)
        strength = a.float().norm(dim=0) * b.norm(dim=1)  # (r,)
        chosen = torch.topk(strength, rank).indices.sort().values  # (rank,)
        module = FactorizedLinear(
            self.in_features,
            self.out_features,
            rank,
            bias=self.bias is not None,
            device=self.a.device,
            dtype=self.a.dtype,
        )
        module.a.copy_(self.a[:, chosen])
        module.b.copy_(self.b[chosen])
        module.mask_a.copy_(self.mask_a[:, chosen])
        module.mask_b.copy_(self.mask_b[chosen])
        if self.bias is not None and module.bias is not None:
            module.bias.copy_(self.bias)
        module.train(self.training)
        return module

    @property
    def rank(self) -> int:
        """The inner dimension r."""
        return self.a.shape[1]

    def dense_weight(self) -> Tensor:
        return (self.a * self.mask_a) @ (self.b * self.mask_b)  # (m, r) @ (r, n) -> (m, n)

    def forward(self, x: Tensor) -> Tensor:
        h = F.linear(x, self._effective(self.b, self.mask_b))  # (..., n) -> (..., r)
        return F.linear(h, self._effective(self.a, self.mask_a), self.bias)  # (..., r) -> (..., m)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, "
            f"kept={self.nonzero_count(include_bias=False)}"
        )


class FactorizedEmbedding(nn.Module):
    """The word embedding ``E`` (V, d) as ``first`` (V, k) looked up, then ``@ second`` (k, d).

    Factors come from the SVD of ``E`` with the same sqrt(S) scaling as ``FactorizedLinear``.
    ``weight`` is the dense (V, d) product, for code that reads ``embeddings.weight``.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        rank: int,
        padding_idx: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.first = nn.Embedding(
            num_embeddings,
            rank,
            padding_idx=padding_idx,
            _weight=torch.zeros(num_embeddings, rank, device=device, dtype=dtype),
        )
        self.second = nn.Parameter(torch.zeros(rank, embedding_dim, device=device, dtype=dtype))

    @classmethod
    def from_embedding(
        cls, embedding: nn.Embedding | FactorizedEmbedding, rank: int
    ) -> FactorizedEmbedding:
        """Factorize ``embedding`` (or re-truncate a factorized one via its dense product)."""
        weight = (
            embedding.dense_weight()
            if isinstance(embedding, FactorizedEmbedding)
            else embedding.weight
        )  # (V, d)
        first, second = svd_factors(weight, rank)  # (V, k), (k, d)
        module = cls(
            embedding.num_embeddings,
            embedding.embedding_dim,
            rank,
            padding_idx=embedding.padding_idx,
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            module.first.weight.copy_(first)
            module.second.copy_(second)
        return module

    @property
    def rank(self) -> int:
        """The inner dimension k."""
        return self.second.shape[0]

    @property
    def weight(self) -> Tensor:
        """The dense (V, d) product (recomputed on each access)."""
        return self.dense_weight()

    def dense_weight(self) -> Tensor:
        return self.first.weight @ self.second  # (V, k) @ (k, d) -> (V, d)

    def to_dense(self) -> nn.Embedding:
        """A plain ``nn.Embedding`` holding the dense (V, d) product (no size saving)."""
        weight = self.dense_weight().detach()  # (V, d)
        return nn.Embedding.from_pretrained(weight, freeze=False, padding_idx=self.padding_idx)

    def nonzero_count(self) -> int:
        """Entries of both factors (the embedding is factorized, never pruned)."""
        return self.first.weight.numel() + self.second.numel()

    def forward(self, input_ids: Tensor) -> Tensor:
        return self.first(input_ids) @ self.second  # (...,) -> (..., k) -> (..., d)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, rank={self.rank}"

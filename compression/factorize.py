"""Data-aware factorizations of encoder linears: plain, Fisher-weighted and activation-whitened SVD.

All three return factors ``A`` (m, r) and ``B`` (r, n) of the same shapes as plain SVD, so eq. 7
counts are unchanged; they differ in which error the rank-r truncation minimises:

- ``svd``: ``||W - AB||_F`` (eq. 2, the paper's).
- ``fisher`` (Hsu et al., ICLR 2022, FWSVD): ``||D (W - AB)||_F`` with ``D = diag(sqrt(I))`` and
  ``I`` (m,) the row-wise Fisher importance, the squared gradients of the task loss summed over
  each output row of ``W``, accumulated over a few hundred training examples.
- ``whiten`` (SVD-LLM): ``||(W - AB) X^T||_F`` for the layer's inputs ``X`` (tokens, n), through
  the Cholesky factor ``L`` of ``X^T X`` (damped): SVD of ``W L``, then ``B = sqrt(S) V^T L^-1``.

The statistics (``I`` per layer, or ``X^T X`` per layer) are computed once from the teacher and
cached next to it as safetensors (:mod:`ladasearch.compression.factor_stats`). The word embedding
is always factorized by plain SVD (its rows are looked up, not multiplied by activations).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ladasearch.compression.matrix_ops import svd_factors
from ladasearch.errors import LadaError

__all__ = ["FACTORIZATIONS", "Factorizer", "fisher_factors", "whitened_factors"]

FACTORIZATIONS = ("svd", "fisher", "whiten")
_DAMPING = 1e-3  # of the mean diagonal of X^T X, added before the Cholesky factorization


def _split(u: Tensor, s: Tensor, vh: Tensor, rank: int) -> tuple[Tensor, Tensor]:
    root = s[:rank].sqrt()  # (r,)
    return u[:, :rank] * root, root[:, None] * vh[:rank]  # (m, r), (r, n)


def fisher_factors(weight: Tensor, rank: int, importance: Tensor) -> tuple[Tensor, Tensor]:
    """FWSVD factors of ``weight`` (m, n) under row importance ``importance`` (m,)."""
    w = weight.detach().float()
    scale = importance.to(w.device).float().clamp_min(0).sqrt()  # (m,)
    scale = scale + 1e-6 * scale.mean().clamp_min(1e-12)  # no row weighs exactly 0
    u, s, vh = torch.linalg.svd(scale[:, None] * w, full_matrices=False)  # (m,p) (p,) (p,n)
    a, b = _split(u, s, vh, rank)
    return (a / scale[:, None]).to(weight.dtype).contiguous(), b.to(weight.dtype).contiguous()


def cholesky_of_gram(gram: Tensor) -> Tensor:
    """Lower-triangular ``L`` (n, n) with ``L L^T = X^T X + damping``, damping raised until it works."""
    g = gram.double()
    mean_diag = g.diagonal().mean().clamp_min(1e-12)
    eye = torch.eye(g.shape[0], dtype=g.dtype, device=g.device)
    damping = _DAMPING
    for _ in range(8):
        factor, info = torch.linalg.cholesky_ex(g + damping * mean_diag * eye)
        if int(info) == 0:
            return factor.float()
        damping *= 10
    raise LadaError("whiten factorization: the input Gram matrix is not positive definite")


def whitened_factors(weight: Tensor, rank: int, cholesky: Tensor) -> tuple[Tensor, Tensor]:
    """SVD-LLM factors of ``weight`` (m, n) given ``L`` (n, n), the Cholesky factor of ``X^T X``."""
    w = weight.detach().float()
    low = cholesky.to(w.device).float()  # (n, n)
    u, s, vh = torch.linalg.svd(w @ low, full_matrices=False)  # (m,p) (p,) (p,n)
    a, c = _split(u, s, vh, rank)  # (m, r), (r, n)
    b = torch.linalg.solve_triangular(low, c, upper=False, left=False)  # c L^-1: (r, n)
    return a.to(weight.dtype).contiguous(), b.to(weight.dtype).contiguous()


@dataclass
class Factorizer:
    """Factorizes each encoder linear by ``method``, with the statistics of that layer.

    ``stats`` maps an encoder linear's fqn to its row importance (m,) for ``fisher`` or its input
    Gram matrix ``X^T X`` (n, n) for ``whiten``; ``svd`` needs none. A layer without statistics
    falls back to plain SVD.
    """

    method: str = "svd"
    stats: dict[str, Tensor] = field(default_factory=dict)
    _cholesky: dict[str, Tensor] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.method not in FACTORIZATIONS:
            raise LadaError(
                f"factorization must be one of {', '.join(FACTORIZATIONS)}, got {self.method!r}"
            )

    def _low(self, fqn: str) -> Tensor | None:
        if self.method != "whiten" or fqn not in self.stats:
            return None
        if fqn not in self._cholesky:
            self._cholesky[fqn] = cholesky_of_gram(self.stats[fqn])
        return self._cholesky[fqn]

    def factors(self, fqn: str, weight: Tensor, rank: int) -> tuple[Tensor, Tensor]:
        """``(A (m, r), B (r, n))`` of ``weight`` (m, n) for the layer at ``fqn``."""
        if self.method == "fisher" and fqn in self.stats:
            return fisher_factors(weight, rank, self.stats[fqn])
        low = self._low(fqn)
        if low is not None:
            return whitened_factors(weight, rank, low)
        return svd_factors(weight, rank)

    def row_scale(self, fqn: str) -> Tensor | None:
        """Row weights (m,) for ranking components of a factorized layer (fisher), else None."""
        if self.method == "fisher" and fqn in self.stats:
            return self.stats[fqn].float().clamp_min(0).sqrt()
        return None

    def column_transform(self, fqn: str) -> Tensor | None:
        """``L`` (n, n) for ranking components by their effect on the inputs (whiten), else None."""
        return self._low(fqn)

"""The tensor operations the compressed layers and eq. 7's accounting share (pure functions).

``keep_count`` is the one rounding rule of pruning (round(f * numel), at least 1), used by the
layers when they prune and by :mod:`ladasearch.compression.accounting` when it predicts counts;
``magnitude_mask`` keeps the largest entries; ``svd_factors`` is eq. 2's truncated SVD.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ladasearch.errors import RatioError

__all__ = ["keep_count", "magnitude_mask", "svd_factors"]


def keep_count(numel: int, keep_fraction: float) -> int:
    """Entries kept by pruning ``numel`` of them at ``keep_fraction``: round(f * numel), >= 1."""
    if not (isinstance(keep_fraction, int | float) and 0.0 < keep_fraction <= 1.0):
        raise RatioError(f"keep_fraction must be in (0, 1], got {keep_fraction!r}")
    return min(numel, max(1, round(keep_fraction * numel)))


def magnitude_mask(values: Tensor, keep: int) -> Tensor:
    """Boolean mask (same shape as ``values``) of its ``keep`` largest-magnitude entries."""
    flat = values.detach().abs().flatten()  # (numel,)
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[torch.topk(flat.float(), keep, sorted=False).indices] = True
    return mask.view_as(values)


def svd_factors(weight: Tensor, rank: int) -> tuple[Tensor, Tensor]:
    """Eq. 2: ``A = U_r sqrt(S_r)`` (m, r) and ``B = sqrt(S_r) V_r^T`` (r, n), with ``A @ B ~ W``.

    The SVD runs in float32 whatever the dtype of ``weight``; the factors come back in its dtype.
    """
    m, n = weight.shape
    if not 1 <= rank <= min(m, n):
        raise RatioError(f"rank must be in [1, {min(m, n)}] for a {m} x {n} matrix, got {rank}")
    u, s, vh = torch.linalg.svd(weight.detach().float(), full_matrices=False)  # (m,p) (p,) (p,n)
    root = s[:rank].sqrt()  # (r,)
    a = u[:, :rank] * root  # (m, r)
    b = root[:, None] * vh[:rank]  # (r, n)
    return a.to(weight.dtype).contiguous(), b.to(weight.dtype).contiguous()

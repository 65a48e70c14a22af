"""Compression targets as users write them: a ratio (``0.2``) or a factor (``"5x"``)."""

from __future__ import annotations

import math

from ladasearch.errors import RatioError

__all__ = ["format_factor", "parse_target"]


def parse_target(value: object, *, what: str = "target") -> float:
    """Parse ``0.2``, ``"0.2"``, ``"5x"`` or ``"5.0x"`` into a ratio P in (0, 1].

    A factor ``Nx`` means the model becomes N times smaller: P = 1 / N.
    """
    text = str(value).strip().lower()
    try:
        if text.endswith("x"):
            factor = float(text[:-1])
            if not (math.isfinite(factor) and factor >= 1.0):
                raise RatioError(f"{what} factor must be >= 1x, got {value!r}")
            return 1.0 / factor
        ratio = float(text)
    except ValueError as exc:
        raise RatioError(
            f"{what} must be a ratio in (0, 1] such as 0.2 or a factor such as 5x, got {value!r}"
        ) from exc
    if not (math.isfinite(ratio) and 0.0 < ratio <= 1.0):
        raise RatioError(
            f"{what} must be a ratio in (0, 1] such as 0.2 or a factor such as 5x, got {value!r}"
        )
    return ratio


def format_factor(ratio: float) -> str:
    """``0.2`` -> ``"5.0x"``: the compression factor as the paper writes it."""
    return f"{1.0 / ratio:.1f}x" if ratio > 0 else "inf"

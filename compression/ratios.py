"""The ratio triple (P_embd, P_svd, P_weight): one typed value from the CLI to the database.

:data:`RATIO_KEYS` spells the three keys once; every dict, Optuna parameter set, user attribute
and record that carries the ratios uses these names. :class:`Ratios` validates each value
(a finite float in (0, 1], 1 meaning "leave dense") and converts to and from those dicts.
Pure Python (no torch), so reading a study file or a database record stays cheap.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ladasearch.errors import RatioError

__all__ = ["RATIO_KEYS", "Ratios", "check_ratio"]

RATIO_KEYS: tuple[str, str, str] = ("p_embd", "p_svd", "p_weight")
"""The ratios' names, in order: word embedding, encoder factorization, encoder pruning."""


def check_ratio(name: str, value: object) -> float:
    """``value`` as a float in (0, 1]; else a one-line :class:`RatioError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RatioError(f"{name} must be a number in (0, 1], got {value!r}")
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise RatioError(f"{name} must be in (0, 1], got {value}")
    return float(value)


@dataclass(frozen=True)
class Ratios:
    """The three LadaBERT ratios, each a finite float in (0, 1]; 1 means "leave dense"."""

    p_embd: float
    p_svd: float
    p_weight: float

    def __post_init__(self) -> None:
        for name in RATIO_KEYS:
            object.__setattr__(self, name, check_ratio(name, getattr(self, name)))

    @classmethod
    def identity(cls) -> Ratios:
        """``(1, 1, 1)``: nothing compressed."""
        return cls(1.0, 1.0, 1.0)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Ratios:
        """The ratios under :data:`RATIO_KEYS` in ``values`` (other keys ignored).

        Real numbers of any type (NumPy's too) become floats; a missing key raises a one-line
        :class:`RatioError`; strings are not accepted.
        """
        missing = [key for key in RATIO_KEYS if values.get(key) is None]
        if missing:
            raise RatioError(f"no {' / '.join(missing)} given: need all of {', '.join(RATIO_KEYS)}")

        def number(value: Any) -> Any:
            real = isinstance(value, numbers.Real) and not isinstance(value, bool)
            return float(value) if real else value

        return cls(*(number(values[key]) for key in RATIO_KEYS))

    def to_dict(self) -> dict[str, float]:
        """``{"p_embd": ..., "p_svd": ..., "p_weight": ...}``."""
        return asdict(self)

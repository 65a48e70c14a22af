"""ladasearch: search LadaBERT compression ratios and use the compressed classifiers.

Importing the package is light (no torch); ``load`` imports the model code when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ladasearch.inference import CompressedClassifier

__all__ = ["__version__", "load"]

__version__ = "0.1.0"


def load(path: str | Path, device: str = "auto") -> CompressedClassifier:
    """Load a compressed classifier folder; call it on texts: ``load(path)("a fine film")``."""
    from ladasearch.inference import load as _load

    return _load(path, device=device)

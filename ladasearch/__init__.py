"""ladasearch: search LadaBERT compression ratios and use the compressed classifiers.

Importing the package is light (no torch); ``load`` imports the model code when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ladasearch.inference import CompressedClassifier

__all__ = ["__version__", "export_onnx", "load"]

__version__ = "0.1.0"


def load(path: str | Path, device: str = "auto") -> CompressedClassifier:
    """Load a compressed classifier folder; call it on texts: ``load(path)("a fine film")``."""
    from ladasearch.inference import load as _load

    return _load(path, device=device)


def export_onnx(
    model_dir: str | Path, out: str | Path | None = None, quantize: bool = False
) -> list[Path]:
    """Write the ONNX form of a compressed model folder (an export, or a saved trial model).

    ``out`` defaults to ``model_dir/model.onnx``; with ``quantize`` also ``model.int8.onnx``
    beside it (onnxruntime's dynamic int8). Factorized layers become two MatMuls. Returns the
    files written. Needs the ``onnx`` extra.
    """
    from ladasearch.compression.onnx_export import ONNX_FILE
    from ladasearch.compression.onnx_export import export_onnx as _export
    from ladasearch.compression.serialize import load_compressed

    model, _tokenizer, _meta = load_compressed(model_dir, "cpu")
    return _export(model, Path(out) if out else Path(model_dir) / ONNX_FILE, quantize=quantize)

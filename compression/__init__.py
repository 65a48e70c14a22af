"""LadaBERT hybrid compression: find layers, factorize and prune them, count, save and load.

Public API: ``compress_(model, Ratios(...))`` and the eq.-7 accounting of ``accounting``; the
ratio triple in ``ratios``; layers in ``layers``; ``save_compressed`` / ``load_compressed`` in
``serialize``. Names are resolved on first use (PEP 562), so importing a torch-free module such as
``ladasearch.compression.ratios`` (a study file's reader does) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ladasearch.compression.accounting import (
        FeasibleRanges,
        ParameterGroups,
        count_nonzero_params,
        embedding_rank,
        encoder_rank,
        feasible_ranges,
        kept,
        parameter_groups,
        predict_params,
        predicted_ratio,
        smallest_reachable_ratio,
        solve_p_weight,
    )
    from ladasearch.compression.layers import FactorizedEmbedding, FactorizedLinear, MaskedLinear
    from ladasearch.compression.plan import (
        CompressionRecord,
        MatrixRecord,
        apply_layout_,
        compress_,
        compression_layout,
    )
    from ladasearch.compression.ratios import RATIO_KEYS, Ratios
    from ladasearch.compression.serialize import load_compressed, save_compressed
    from ladasearch.compression.targets import (
        DEFAULT_ENCODER_PATTERN,
        encoder_linears,
        replace_module,
        word_embedding,
    )

_HOMES = {
    "accounting": (
        "FeasibleRanges",
        "ParameterGroups",
        "count_nonzero_params",
        "embedding_rank",
        "encoder_rank",
        "feasible_ranges",
        "kept",
        "parameter_groups",
        "predict_params",
        "predicted_ratio",
        "smallest_reachable_ratio",
        "solve_p_weight",
    ),
    "layers": ("FactorizedEmbedding", "FactorizedLinear", "MaskedLinear"),
    "plan": ("CompressionRecord", "MatrixRecord", "apply_layout_", "compress_", "compression_layout"),
    "ratios": ("RATIO_KEYS", "Ratios"),
    "serialize": ("load_compressed", "save_compressed"),
    "targets": ("DEFAULT_ENCODER_PATTERN", "encoder_linears", "replace_module", "word_embedding"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "DEFAULT_ENCODER_PATTERN",
    "RATIO_KEYS",
    "CompressionRecord",
    "FactorizedEmbedding",
    "FactorizedLinear",
    "FeasibleRanges",
    "MaskedLinear",
    "MatrixRecord",
    "ParameterGroups",
    "Ratios",
    "apply_layout_",
    "compress_",
    "compression_layout",
    "count_nonzero_params",
    "embedding_rank",
    "encoder_linears",
    "encoder_rank",
    "feasible_ranges",
    "kept",
    "load_compressed",
    "parameter_groups",
    "predict_params",
    "predicted_ratio",
    "replace_module",
    "save_compressed",
    "smallest_reachable_ratio",
    "solve_p_weight",
    "word_embedding",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value

"""LadaBERT hybrid compression: find layers, factorize and prune them, count, save and load.

Public API: ``compress_(model, Ratios(...))`` and the eq.-7 accounting of ``accounting``; layers in
``layers``; ``save_compressed`` / ``load_compressed`` in ``serialize``.
"""

from ladasearch.compression.accounting import (
    FeasibleRanges,
    ParameterGroups,
    Ratios,
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
from ladasearch.compression.serialize import load_compressed, save_compressed
from ladasearch.compression.targets import (
    DEFAULT_ENCODER_PATTERN,
    encoder_linears,
    replace_module,
    word_embedding,
)

__all__ = [
    "DEFAULT_ENCODER_PATTERN",
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

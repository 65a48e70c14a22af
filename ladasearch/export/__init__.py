"""Export one trial of a study: pick it, measure its layout, write model, configuration and card.

Modules, each with one job:

- :mod:`ladasearch.export.select`: which trial (``--trial N`` or the best under constraints; pure);
- :mod:`ladasearch.export.source`: where its model comes from (the kept folder, or a retraining);
- :mod:`ladasearch.export.config`: the exported configuration (ratios, layout, validated settings, metrics);
- :mod:`ladasearch.export.card`: the model card;
- :mod:`ladasearch.export.runtime`: the model files (runtime folder or ``--dense``, ONNX);
- :mod:`ladasearch.export.folder`: the folder's safety rules (manifest, staging, atomic swap);
- :mod:`ladasearch.export.write`: :func:`export_trial`, the one call that does all of it.
"""

from __future__ import annotations

from ladasearch.export.card import RETRAINED_NOTE, model_card
from ladasearch.export.config import CONFIG_STEM, build_config, matrix_layout
from ladasearch.export.select import NothingQualifies, select_trial
from ladasearch.export.source import missing_model_message, retrain_trial
from ladasearch.export.write import ExportOptions, ExportResult, export_trial

__all__ = [
    "CONFIG_STEM",
    "RETRAINED_NOTE",
    "ExportOptions",
    "ExportResult",
    "NothingQualifies",
    "build_config",
    "export_trial",
    "matrix_layout",
    "missing_model_message",
    "model_card",
    "retrain_trial",
    "select_trial",
]

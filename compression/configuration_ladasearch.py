"""Configuration of an exported LadaBERT student, for transformers' remote-code loading.

This file is copied verbatim into every export folder as ``configuration_ladasearch.py``; it
imports only transformers, so ``AutoConfig.from_pretrained(DIR, trust_remote_code=True)`` works
where ladasearch is not installed. ``model_type`` is not one stock transformers knows, so without
``trust_remote_code`` stock loading refuses the folder instead of loading random weights.
"""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

__all__ = ["LadaConfig"]


class LadaConfig(PretrainedConfig):
    """A compressed classifier: the dense base model's config plus the compressed layout.

    ``base_config``: the base architecture's ``config.to_dict()`` (``model_type`` included).
    ``runtime_layout``: ``{"version": 2, "modules": {fqn: spec}}``; each spec names the stored
    ``kind`` (``factorized``, ``masked``, ``factorized_embedding``), ``shape``, ``rank``,
    ``bias``, ``kept`` (kept entries per stored tensor) and ``runtime`` (the form it runs in).
    """

    model_type = "ladasearch"
    base_config: dict[str, Any] | None = None
    runtime_layout: dict[str, Any] | None = None

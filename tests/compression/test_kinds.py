"""One registry of compressed layer kinds: every walk names a layer the same way."""

from __future__ import annotations

import torch
from transformers import BertForSequenceClassification

from ladasearch.compression.kinds import KINDS, compressed_layers, kind_of
from ladasearch.compression.plan import compress_, compression_layout
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.runtime import densify_
from ladasearch.export.config import matrix_layout


def test_every_walk_uses_the_registry_names(tiny_bert: BertForSequenceClassification) -> None:
    compress_(tiny_bert, Ratios(0.5, 0.4, 0.3))
    walked = {fqn: kind.name for fqn, _, kind in compressed_layers(tiny_bert)}
    saved = {fqn: spec["kind"] for fqn, spec in compression_layout(tiny_bert)["modules"].items()}
    exported = {entry["name"]: entry["kind"] for entry in matrix_layout(tiny_bert)}
    assert walked == saved == exported
    assert set(walked.values()) == {"factorized", "factorized_embedding"}
    assert kind_of(torch.nn.Linear(2, 2)) is None


def test_a_spec_rebuilds_an_empty_layer_of_the_same_kind_and_shape(
    tiny_bert: BertForSequenceClassification,
) -> None:
    compress_(tiny_bert, Ratios(1.0, 1.0, 0.5))  # masked linears, the embedding left dense
    layers = list(compressed_layers(tiny_bert))
    assert {layer.kind.name for layer in layers} == {"masked"}
    for _, module, kind in layers:
        spec = kind.spec(module)
        rebuilt = KINDS[spec["kind"]].build(spec)
        assert kind_of(rebuilt) is kind and kind.spec(rebuilt) == spec


def test_densify_replaces_every_kind_and_keeps_the_logits(
    tiny_bert: BertForSequenceClassification,
) -> None:
    compress_(tiny_bert, Ratios(0.5, 0.4, 0.3))
    tiny_bert.eval()
    ids = torch.arange(12).reshape(2, 6)
    reference = tiny_bert(input_ids=ids).logits
    densify_(tiny_bert)
    assert list(compressed_layers(tiny_bert)) == []
    torch.testing.assert_close(tiny_bert(input_ids=ids).logits, reference, atol=1e-5, rtol=1e-5)

"""Save then load gives the same logits; pruned factors take less room on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertForSequenceClassification, PreTrainedTokenizerBase

import ladasearch
from ladasearch.compression.plan import compress_, compression_layout
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.serialize import load_compressed, save_compressed
from ladasearch.errors import ModelError
from ladasearch.inference import CompressedClassifier, Prediction


@pytest.fixture
def tokenizer(tiny_model_dir: Path) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture
def labelled_model(tiny_model_dir: Path) -> BertForSequenceClassification:
    model = BertForSequenceClassification.from_pretrained(
        tiny_model_dir, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1}
    )
    return model.eval()


def _logits(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase) -> torch.Tensor:
    batch = tokenizer(
        ["a great film", "the plot was dull and boring"], padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        return model(**batch).logits


@pytest.mark.parametrize(
    "ratios",
    [Ratios(0.5, 0.4, 0.3), Ratios(1.0, 1.0, 0.3), Ratios(1.0, 0.5, 1.0), Ratios.identity()],
)
def test_save_then_load_gives_identical_logits(
    labelled_model: BertForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    tmp_path: Path,
    ratios: Ratios,
) -> None:
    compress_(labelled_model, ratios)
    folder = save_compressed(labelled_model, tokenizer, tmp_path / "out", {"target": 0.3})
    model, loaded_tokenizer, metadata = load_compressed(folder)
    assert type(model) is BertForSequenceClassification and not model.training
    assert metadata == {"target": 0.3}
    assert compression_layout(model) == compression_layout(labelled_model)
    assert torch.equal(_logits(model, loaded_tokenizer), _logits(labelled_model, tokenizer))
    document = json.loads((folder / "ladasearch.json").read_text())
    assert document["labels"] == ["neg", "pos"]
    assert document["model_class"] == "BertForSequenceClassification"


def test_pruning_shrinks_the_file(
    labelled_model: BertForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    tmp_path: Path,
) -> None:
    sizes = {}
    for p_weight in (1.0, 0.3):
        student = type(labelled_model)(labelled_model.config).eval()
        student.load_state_dict(labelled_model.state_dict())
        compress_(student, Ratios(1.0, 1.0, p_weight))
        folder = save_compressed(student, tokenizer, tmp_path / str(p_weight), {})
        sizes[p_weight] = (folder / "model.safetensors").stat().st_size
    # Encoder weights are ~85% of the tiny model; at 30% kept the file loses well over a third.
    assert sizes[0.3] < 0.6 * sizes[1.0]


def test_missing_or_corrupt_folder_raises(
    labelled_model: BertForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    tmp_path: Path,
) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_compressed(tmp_path / "absent")
    folder = save_compressed(labelled_model, tokenizer, tmp_path / "broken", {})
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="broken"):
        load_compressed(folder)
    (folder / "ladasearch.json").unlink()
    with pytest.raises(ModelError, match=r"ladasearch\.json is missing"):
        load_compressed(folder)


def test_ladasearch_load_predicts(
    labelled_model: BertForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    tmp_path: Path,
) -> None:
    compress_(labelled_model, Ratios(0.5, 0.5, 0.5))
    folder = save_compressed(labelled_model, tokenizer, tmp_path / "clf", {"note": "tiny"})
    classifier = ladasearch.load(folder, device="cpu")
    assert isinstance(classifier, CompressedClassifier)
    assert classifier.labels == ["neg", "pos"] and classifier.metadata == {"note": "tiny"}
    texts = ["a great film", "the plot was dull", "fine", "boring and flat story"]
    predictions = classifier.predict(texts, batch_size=3)
    assert len(predictions) == 4 and all(isinstance(p, Prediction) for p in predictions)
    probabilities = _logits(labelled_model, tokenizer)[0].softmax(-1)
    first = predictions[0]
    assert first.probabilities["pos"] == pytest.approx(float(probabilities[1]), abs=1e-5)
    assert first.score == max(first.probabilities.values())
    assert first.label == max(first.probabilities, key=first.probabilities.__getitem__)
    assert sum(first.probabilities.values()) == pytest.approx(1.0)
    single = classifier("a great film")
    assert single[0] == first
    pairs = classifier(["a film", "a plot"], text_pairs=["great", "dull"])
    assert len(pairs) == 2

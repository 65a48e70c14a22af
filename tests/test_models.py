"""Model resolution and loading: tiny local folder, missing folder, the offline minilm."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from ladasearch.errors import ModelError
from ladasearch.models import (
    OFFLINE_MODELS,
    load_classifier,
    model_fingerprint,
    resolve_model_source,
)


def test_tiny_folder_loads_with_label_names_and_eager_attention(tiny_model_dir: Path) -> None:
    model, tokenizer = load_classifier(str(tiny_model_dir), ["sad", "happy", "meh"])
    assert model.config.num_labels == 3
    assert model.config.id2label == {0: "sad", 1: "happy", 2: "meh"}
    assert model.config.label2id == {"sad": 0, "happy": 1, "meh": 2}
    assert not model.training
    batch = tokenizer(["good film"], return_tensors="pt")
    with torch.inference_mode():
        output = model(**batch, output_attentions=True)
    assert output.logits.shape == (1, 3)
    assert len(output.attentions) == 2  # eager attention returns them (sdpa would not)


def test_missing_folder_and_bad_models_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_classifier(str(tmp_path / "nope"), ["a", "b"])
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model_source("./no/such/folder")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="cannot load model") as info:
        load_classifier(str(tmp_path / "empty"), ["a", "b"])
    assert "\n" not in str(info.value)


def test_resolution_and_fingerprint(tiny_model_dir: Path, tmp_path: Path) -> None:
    assert resolve_model_source(str(tiny_model_dir)) == str(tiny_model_dir)
    assert resolve_model_source("bert-base-uncased") == "bert-base-uncased"  # a hub id, untouched
    assert model_fingerprint("bert-base-uncased") == "hub:bert-base-uncased"
    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "copy"))
    before = model_fingerprint(str(copy))
    assert before == model_fingerprint(str(copy))
    config = copy / "config.json"
    config.write_text(config.read_text().replace('"hidden_act"', ' "hidden_act"'))
    assert model_fingerprint(str(copy)) != before


def test_minilm_resolves_and_loads() -> None:
    """The real offline model (loads in well under a second from the package folder)."""
    path = Path(resolve_model_source("minilm"))
    assert path == Path(OFFLINE_MODELS["minilm"]())
    assert (path / "config.json").is_file()
    model, tokenizer = load_classifier("minilm", ["negative", "positive"])
    assert model.config.hidden_size == 384 and model.config.num_labels == 2
    assert model.config._attn_implementation == "eager"
    assert tokenizer("hello")["input_ids"][0] == tokenizer.cls_token_id

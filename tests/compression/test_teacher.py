"""Teacher fine-tuning and its on-disk cache (tiny model, tiny CSV task)."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import ladasearch.compression.teacher as teacher_module
from ladasearch.compression.evaluate import predict_logits
from ladasearch.compression.teacher import TeacherConfig, get_teacher, teacher_key
from ladasearch.errors import LadaError
from ladasearch.models import load_classifier
from ladasearch.tasks import TaskData, TaskSpec, encode, load_task, make_loader

CPU = torch.device("cpu")
CONFIG = TeacherConfig(steps=30, batch_size=16, learning_rate=1e-3)


@pytest.fixture(scope="module")
def tiny_task(tiny_csv: Path) -> TaskData:
    return load_task(TaskSpec(f"csv:{tiny_csv}", text_column="sentence", label_column="sentiment"))


def _dev_logits(teacher: teacher_module.Teacher, task: TaskData) -> torch.Tensor:
    loader = make_loader(encode(task.dev, teacher.tokenizer), 8, shuffle=False)
    return predict_logits(teacher.model, loader, CPU)


def test_trains_once_then_loads_from_cache(
    tiny_model_dir: Path, tiny_task: TaskData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = get_teacher(str(tiny_model_dir), tiny_task, CONFIG, device=CPU, cache_dir=tmp_path)
    assert not first.cached
    assert first.path == tmp_path / "teachers" / teacher_key(str(tiny_model_dir), tiny_task, CONFIG)
    assert (first.path / "teacher.json").is_file()
    assert (first.path / "model.safetensors").is_file()
    assert 0.0 <= first.dev_metrics["accuracy"] <= 1.0
    pretrained, _ = load_classifier(str(tiny_model_dir), tiny_task.label_names)
    trained = first.model.state_dict()
    changed = [k for k, v in pretrained.state_dict().items() if not torch.equal(v, trained[k])]
    assert "classifier.weight" in changed and len(changed) > 10  # fine-tuned, not just loaded
    assert tiny_task.test != tiny_task.dev  # csv task without a test file: a carved test split
    assert 0.0 <= first.test_metrics["accuracy"] <= 1.0
    assert first.params == sum(p.numel() for p in first.model.parameters())
    assert not first.model.training
    assert [p.name for p in (tmp_path / "teachers").iterdir() if p.is_dir()] == [first.path.name]

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached teacher was trained again")

    monkeypatch.setattr(teacher_module, "_fine_tune", no_training)
    second = get_teacher(str(tiny_model_dir), tiny_task, CONFIG, device=CPU, cache_dir=tmp_path)
    assert second.cached and second.path == first.path
    assert second.dev_metrics == first.dev_metrics and second.params == first.params
    assert not second.model.training
    assert second.model.config._attn_implementation == "eager"
    assert torch.equal(_dev_logits(first, tiny_task), _dev_logits(second, tiny_task))


def test_cache_key_covers_hyper_parameters(tiny_model_dir: Path, tiny_task: TaskData) -> None:
    key = teacher_key(str(tiny_model_dir), tiny_task, CONFIG)
    assert key == teacher_key(str(tiny_model_dir), tiny_task, replace(CONFIG))
    assert key != teacher_key(str(tiny_model_dir), tiny_task, replace(CONFIG, learning_rate=1e-4))
    assert key != teacher_key(str(tiny_model_dir), tiny_task, replace(CONFIG, seed=1))
    other_task = replace(tiny_task, fingerprint="0" * 64)
    assert key != teacher_key(str(tiny_model_dir), other_task, CONFIG)


def test_parallel_callers_train_one_teacher(
    tiny_model_dir: Path, tiny_task: TaskData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = teacher_module._fine_tune

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(teacher_module, "_fine_tune", counting)
    config = replace(CONFIG, steps=4)
    stale = tmp_path / "teachers" / f".{teacher_key(str(tiny_model_dir), tiny_task, config)[:16]}-x"
    stale.mkdir(parents=True)  # as a killed run leaves it
    results: list[teacher_module.Teacher] = []

    def run() -> None:
        results.append(
            get_teacher(str(tiny_model_dir), tiny_task, config, device=CPU, cache_dir=tmp_path)
        )

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert sorted(t.cached for t in results) == [False, True]
    leftovers = [p.name for p in (tmp_path / "teachers").iterdir() if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("steps", 0),
        ("batch_size", 0),
        ("learning_rate", 0.0),
        ("learning_rate", float("nan")),
        ("warmup_ratio", 1.0),
        ("weight_decay", -0.1),
        ("max_length", 1),
        ("seed", -1),
    ],
)
def test_config_rejects_nonsense(field: str, value: float) -> None:
    with pytest.raises(LadaError, match=field):
        TeacherConfig(**{field: value})  # type: ignore[arg-type]

"""Issue 17: the class-balanced teacher loss (``balance_classes``)."""

from __future__ import annotations

import csv
import dataclasses
import random
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from ladasearch.compression.evaluate import predict_logits
from ladasearch.compression.teacher import TeacherConfig, _key_inputs, teacher_key
from ladasearch.compression.teacher_fit import class_weights, fine_tune
from ladasearch.models import load_classifier
from ladasearch.tasks import TaskSpec, encode, load_task, make_loader
from ladasearch.testing import FILLER

CPU = torch.device("cpu")


def test_class_weights_make_every_class_count_alike() -> None:
    labels = [0, 0, 0, 1]
    assert class_weights(labels, 2).tolist() == pytest.approx([4 / 6, 2.0])
    assert class_weights([0, 1, 0, 1], 2).tolist() == pytest.approx([1.0, 1.0])
    assert class_weights([0, 0], 3).tolist() == pytest.approx([1.0, 0.0, 0.0])
    # the weighted mean cross-entropy is the mean over classes of each class's mean loss
    torch.manual_seed(0)
    logits, targets = torch.randn(10, 2), torch.tensor([0] * 8 + [1] * 2)  # (10, 2), (10,)
    losses = F.cross_entropy(logits, targets, reduction="none")
    balanced = (losses[:8].mean() + losses[8:].mean()) / 2
    weighted = F.cross_entropy(logits, targets, weight=class_weights(targets.tolist(), 2))
    assert weighted.item() == pytest.approx(balanced.item(), rel=1e-6)
    assert weighted.item() != pytest.approx(losses.mean().item(), rel=1e-3)


def test_balance_option_is_in_the_key_only_when_on(skewed_noise: Path) -> None:
    task = load_task(TaskSpec(f"csv:{skewed_noise}"))
    plain, balanced = TeacherConfig(), TeacherConfig(balance_classes=True)
    assert teacher_key("m", task, plain) != teacher_key("m", task, balanced)
    # off: the key of a teacher cached before the option existed
    assert "balance_classes" not in _key_inputs("m", task, plain)["config"]
    assert "class-balanced" in balanced.describe(1000) and "balanced" not in plain.describe(1000)


@pytest.fixture(scope="module")
def skewed_noise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Text unrelated to the label, 85 % ``no``: only the loss's class weights move the
    predictions off the majority class."""
    rng = random.Random(3)
    path = tmp_path_factory.mktemp("skew") / "skew.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(300):
            label = "yes" if rng.random() < 0.15 else "no"
            writer.writerow([" ".join(rng.choice(FILLER) for _ in range(5)), label])
    return path


def test_balanced_loss_moves_the_teacher_off_the_majority_class(
    tiny_model_dir: Path, skewed_noise: Path
) -> None:
    task = load_task(TaskSpec(f"csv:{skewed_noise}"))
    shares = {}
    for balance in (False, True):
        torch.manual_seed(0)
        model, tokenizer = load_classifier(str(tiny_model_dir), task.label_names)
        config = dataclasses.replace(
            TeacherConfig(steps=60, learning_rate=2e-3, max_length=16, evaluations=1),
            balance_classes=balance,
        )
        fine_tune(model, tokenizer, task, config, CPU, quiet=True)
        loader = make_loader(encode(task.dev, tokenizer, 16), 64, shuffle=False)
        predictions = predict_logits(model, loader, CPU).argmax(-1)  # (n,)
        majority = Counter(e.label for e in task.train).most_common(1)[0][0]
        shares[balance] = (predictions != majority).float().mean().item()
    assert shares[False] < 0.1  # plain cross-entropy: (almost) always the majority class
    assert shares[True] > 0.25  # balanced: the minority class is predicted often


def test_study_file_turns_the_balanced_loss_on() -> None:
    from ladasearch.errors import LadaError
    from ladasearch.search.study_file import parse_study

    study = {"name": "x", "mode": "fixed", "target": 0.2}
    assert parse_study({**study, "teacher": {"balance_classes": True}}).teacher.balance_classes
    assert not parse_study(study).teacher.balance_classes
    with pytest.raises(LadaError, match="balance_classes"):
        parse_study({**study, "teacher": {"balance_classes": "yes"}})

"""Issue 17: the majority-class baseline, its significance test, pair tasks, the warning, the refusal."""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path

import pytest
import torch

from ladasearch.cli import main
from ladasearch.compression.teacher import TeacherConfig, get_teacher
from ladasearch.errors import LadaError
from ladasearch.search.orchestrator import _refuse_weak_teacher
from ladasearch.search.study_file import parse_study
from ladasearch.stats import (
    binomial_tail,
    majority_check,
    majority_label,
    mcnemar_one_sided,
    weak_teacher_warning,
)
from ladasearch.tasks import TaskSpec, encode, load_task
from ladasearch.testing import FILLER, NEGATIVE, POSITIVE

CPU = torch.device("cpu")


def test_binomial_tail_and_mcnemar_on_known_cases() -> None:
    assert binomial_tail(8, 10) == pytest.approx(56 / 1024)  # 45 + 10 + 1 of 2^10
    assert binomial_tail(0, 5) == 1.0 and binomial_tail(6, 5) == 0.0
    assert binomial_tail(3, 3, 0.5) == pytest.approx(1 / 8)
    assert mcnemar_one_sided(8, 2) == pytest.approx(56 / 1024)
    assert mcnemar_one_sided(0, 0) == 1.0  # no discordant pair: no evidence
    assert mcnemar_one_sided(5, 5) == pytest.approx(
        sum(math.comb(10, k) for k in range(5, 11)) / 1024
    )
    assert mcnemar_one_sided(600, 400) < 1e-9  # large n stays finite and tiny
    with pytest.raises(ValueError):
        mcnemar_one_sided(-1, 2)


def test_majority_check_counts_discordant_pairs() -> None:
    assert majority_label([1, 0, 1, 2]) == 1 and majority_label([2, 0, 0, 2]) == 0  # tie: smallest
    labels = [0, 0, 0, 0, 1, 1]
    predictions = [0, 0, 1, 0, 1, 1]  # right on both 1s (wins 2), wrong on one 0 (loss 1)
    check = majority_check(predictions, labels, train_labels=[0, 0, 1])
    assert check.majority_label == 0
    assert check.accuracy == pytest.approx(5 / 6) and check.majority_accuracy == pytest.approx(
        4 / 6
    )
    assert (check.wins, check.losses) == (2, 1)
    assert check.p_value == pytest.approx(mcnemar_one_sided(2, 1)) and not check.significant
    assert type(check).from_dict(check.to_dict()) == check
    always_majority = majority_check([0] * 6, labels, [0, 0, 1])
    assert always_majority.p_value == 1.0 and always_majority.accuracy == pytest.approx(4 / 6)


def _sentence(rng: random.Random, positive: bool, filler: int) -> str:
    words = [rng.choice(FILLER) for _ in range(filler)]
    words.insert(rng.randrange(len(words) + 1), rng.choice(POSITIVE if positive else NEGATIVE))
    return " ".join(words)


@pytest.fixture(scope="module")
def tiny_pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 sentence pairs, 35 % ``positive``: the label is the polarity of the SECOND sentence;
    the first is long (truncated at max_length 24) and carries a random distractor cue."""
    rng = random.Random(0)
    path = tmp_path_factory.mktemp("pairs") / "pairs.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first", "second", "relation"])
        for _ in range(400):
            positive = rng.random() < 0.35
            first = _sentence(rng, rng.random() < 0.5, 20)
            second = _sentence(rng, positive, rng.randint(2, 4))
            writer.writerow([first, second, "positive" if positive else "negative"])
    return path


def test_teacher_beats_its_majority_baseline_on_a_pair_task(
    tiny_model_dir: Path, tiny_pairs: Path, tmp_path: Path
) -> None:
    spec = TaskSpec(
        f"csv:{tiny_pairs}", text_column="first", text_pair_column="second", label_column="relation"
    )
    task = load_task(spec)
    config = TeacherConfig(steps=150, batch_size=32, learning_rate=2e-3, max_length=24)
    teacher = get_teacher(str(tiny_model_dir), task, config, device=CPU, cache_dir=tmp_path)
    encoded = encode(task.dev, teacher.tokenizer, config.max_length)
    # longest_first truncation: every example is cut to 24 tokens and keeps its second segment
    assert all(len(ids) == 24 for ids in encoded.input_ids)
    assert encoded.token_type_ids is not None and all(1 in t for t in encoded.token_type_ids)
    check = teacher.majority_test
    assert check is not None and check.examples == len(task.test)
    assert check.majority_accuracy > 0.5  # the "negative" class dominates
    assert check.accuracy > check.majority_accuracy + 0.2
    assert check.significant and check.p_value < 1e-4
    assert not teacher.weak
    cached = get_teacher(str(tiny_model_dir), task, config, device=CPU, cache_dir=tmp_path)
    assert cached.cached and cached.majority_test == check  # the check is cached with it


def test_default_schedule_scales_with_the_data() -> None:
    config = TeacherConfig()
    assert config.train_steps(10_262) == 963  # rt: 3 epochs of batch 32
    assert config.train_steps(100) == config.min_steps == 300  # tiny sets: the old budget
    assert config.train_steps(10_000_000) == config.max_steps
    assert TeacherConfig(steps=7).train_steps(10_000) == 7
    with pytest.raises(LadaError, match="epochs"):
        TeacherConfig(epochs=0)


@pytest.fixture(scope="module")
def noise_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Labels unrelated to the text, 70 % ``no``: no teacher can beat the majority class."""
    rng = random.Random(1)
    path = tmp_path_factory.mktemp("noise") / "noise.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "other", "label"])
        for _ in range(300):
            label = "yes" if rng.random() < 0.3 else "no"
            writer.writerow([_sentence(rng, True, 4), _sentence(rng, False, 4), label])
    return path


def test_compress_prints_one_warning_for_a_weak_teacher(
    tiny_model_dir: Path, noise_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "compress", "--model", str(tiny_model_dir), "--task", f"csv:{noise_csv}",
            "--text-pair-column", "other", "--p-embd", "0.8", "--p-svd", "0.8",
            "--p-weight", "0.8", "--iterations", "1", "--steps", "2", "--batch-size", "16",
            "--max-length", "16", "--teacher-steps", "3", "--no-latency", "--quiet", "--json",
            "--cache-dir", str(tmp_path), "--device", "cpu",
        ]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    warnings = [line for line in out if line.startswith("WARNING")]
    assert len(warnings) == 1
    assert "not significantly better than always predicting the majority class" in warnings[0]
    assert any(line.strip().startswith("majority class") for line in out)  # beside both columns
    metrics = json.loads(out[-1])
    assert metrics["teacher_significant"] is False
    assert metrics["majority_test_accuracy"] == pytest.approx(0.7, abs=0.15)
    assert metrics["warning"] == warnings[0]


STUDY = {"name": "x", "mode": "fixed", "target": 0.2}
WEAK = {
    "teacher_test_accuracy": 0.60,
    "majority_test_accuracy": 0.645,
    "teacher_majority_p": 0.93,
    "teacher_significant": False,
}


def test_search_refuses_a_weak_teacher_unless_allowed() -> None:
    with pytest.raises(LadaError, match="not significantly better than the majority class") as info:
        _refuse_weak_teacher(WEAK, allowed=False)
    assert "\n" not in str(info.value) and "--allow-weak-teacher" in str(info.value)
    _refuse_weak_teacher(WEAK, allowed=True)
    _refuse_weak_teacher({**WEAK, "teacher_significant": True, "teacher_majority_p": 1e-9}, False)
    _refuse_weak_teacher({"teacher_accuracy": 0.8}, allowed=False)  # a study from before: no check
    assert weak_teacher_warning(WEAK) is not None and weak_teacher_warning({}) is None
    assert parse_study({**STUDY, "teacher": {"allow_weak": True}}).teacher.allow_weak
    assert not parse_study(STUDY).teacher.allow_weak
    assert parse_study(STUDY).teacher.steps is None  # the epoch-based default
    with pytest.raises(LadaError, match="allow_weak"):
        parse_study({**STUDY, "teacher": {"allow_weak": "yes"}})


def test_search_and_show_on_a_weak_teacher(
    tmp_path: Path, tiny_model_dir: Path, noise_csv: Path
) -> None:
    from search_helpers import ladasearch, write_study

    cache = tmp_path / "cache"
    study = write_study(
        tmp_path,
        tiny_model_dir,
        noise_csv,
        name="weak",
        text_column="text",
        text_pair_column="other",
        label_column="label",
        trials=1,
        teacher={"allow_weak": False},
    )
    refused = ladasearch(["search", str(study)], tmp_path, cache, timeout=300)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1
    assert "not significantly better than the majority class" in refused.stderr
    assert "--allow-weak-teacher" in refused.stderr
    shown = ladasearch(["show", "weak"], tmp_path, cache, timeout=120)
    assert shown.returncode == 0
    assert "majority class: dev" in shown.stdout
    assert [line for line in shown.stdout.splitlines() if line.startswith("WARNING")]
    allowed = ladasearch(
        ["search", str(study), "--allow-weak-teacher"], tmp_path, cache, timeout=300
    )
    assert allowed.returncode == 0, allowed.stderr
    trial = json.loads(
        ladasearch(["show", "weak", "--json"], tmp_path, cache).stdout.splitlines()[-1]
    )
    assert len(trial["trials"]) == 1 and trial["teacher"]["teacher_significant"] is False


def test_benchmarks_pair_section_puts_the_majority_class_beside_both(tmp_path: Path) -> None:
    from benchmarks.pair_report import pair_section

    check = {"accuracy": 0.7, "majority_accuracy": 0.645, "p_value": 0.001}
    teacher = {"task": "film", "recipe": "epochs", "seed": 0, "steps": 414, "test": check}
    bench = {
        "task": "film", "factor": 5.0, "seed": 0, "measured_ratio": 0.2, "test_accuracy": 0.68,
        "teacher_test_accuracy": 0.7, "majority_test_accuracy": 0.645, "retained": 0.68 / 0.7,
        "budget": "2 iterations x 100 steps", "device": "cuda", "teacher_recipe": "epochs",
    }  # fmt: skip
    assert pair_section(tmp_path) == []  # nothing measured: no section
    (tmp_path / "teachers.jsonl").write_text(json.dumps(teacher) + "\n", encoding="utf-8")
    (tmp_path / "bench.jsonl").write_text(json.dumps(bench) + "\n", encoding="utf-8")
    text = "\n".join(pair_section(tmp_path))
    assert "| film | epochs | 414 | 1 | 70.0 (70.0) | 64.5 | 1/1 | 0.001 |" in text
    assert "| film | 5x | 68.0 | 70.0 | 64.5 | 97.1 | 0.2000 |" in text
    assert "`film`: significantly above the majority class in every seed with `epochs`" in text


def test_weak_student_warning_reads_test_first_then_dev() -> None:
    from ladasearch.stats import weak_student_warning

    dev_only = {
        "accuracy": 0.62, "majority_accuracy": 0.62, "student_majority_p": 1.0,
        "student_significant": False,
    }  # fmt: skip
    line = weak_student_warning(dev_only)
    assert line is not None and "\n" not in line
    assert line.startswith("WARNING: the compressed model (0.6200 dev accuracy)")
    both = {
        **dev_only, "test_accuracy": 0.81, "majority_test_accuracy": 0.64,
        "student_test_majority_p": 1e-9, "student_test_significant": True,
    }  # fmt: skip
    assert weak_student_warning(both) is None  # test was scored and is significant
    assert weak_student_warning({**dev_only, "student_significant": True}) is None
    assert weak_student_warning({}) is None  # a result from before the check


def test_show_marks_a_trial_that_learned_nothing() -> None:
    from ladasearch.search.summary import format_trials

    row = {
        "number": 3, "state": "COMPLETE", "p_embd": 0.1, "p_svd": 0.3, "p_weight": 0.05,
        "target_ratio": 0.1, "ratio": 0.1, "accuracy": 0.5783, "params": 1000,
        "latency_ms": None, "majority_accuracy": 0.5783, "student_majority_p": 1.0,
        "student_significant": False,
    }  # fmt: skip
    lines = format_trials([row, {**row, "number": 4, "student_significant": True}])
    marked = [line for line in lines if "majority class" in line]
    assert marked == [
        "trial 3: on dev, not significantly better than always predicting the majority class "
        "(0.5783; one-sided McNemar p=1): it learned little at these ratios"
    ]


def test_compress_warns_when_the_student_falls_to_the_majority_class(
    tiny_model_dir: Path, tiny_pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A teacher that learns the pair task (as above), compressed so hard with one distillation
    step that the student cannot beat the majority class: one warning line, about the student."""
    code = main(
        [
            "compress", "--model", str(tiny_model_dir), "--task", f"csv:{tiny_pairs}",
            "--text-column", "first", "--text-pair-column", "second", "--label-column",
            "relation", "--p-embd", "0.05", "--p-svd", "0.05", "--p-weight", "0.05",
            "--iterations", "1", "--steps", "1", "--batch-size", "32", "--max-length", "24",
            "--teacher-steps", "150", "--teacher-learning-rate", "2e-3", "--no-latency",
            "--quiet", "--json", "--cache-dir", str(tmp_path), "--device", "cpu",
        ]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    metrics = json.loads(out[-1])
    assert metrics["teacher_significant"] is True  # the teacher learned the task
    assert metrics["student_test_significant"] is False
    assert metrics["student_test_majority_p"] >= 0.05
    warnings = [line for line in out if line.startswith("WARNING")]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING: the compressed model")
    assert metrics["warning"] == warnings[0]

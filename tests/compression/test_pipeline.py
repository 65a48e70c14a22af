"""The iterative compress-distill loop and the `compress` / `budget` commands, on tiny models."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch

from ladasearch.cli import main
from ladasearch.compression.accounting import parameter_groups, predict_params
from ladasearch.compression.distill import TrainingDiverged
from ladasearch.compression.layers import FactorizedLinear
from ladasearch.compression.pipeline import compress_job
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import TrainingSettings, ratios_at
from ladasearch.compression.teacher import TeacherConfig
from ladasearch.tasks import TaskSpec

TINY_TEACHER = TeacherConfig(steps=20, batch_size=16, learning_rate=1e-3)


def tiny_task(csv_path: Path) -> TaskSpec:
    return TaskSpec(name=f"csv:{csv_path}", text_column="sentence", label_column="sentiment")


def test_linear_schedule_moves_each_ratio_linearly_from_one_to_the_target() -> None:
    target = Ratios(0.4, 0.5, 0.7)
    steps = [ratios_at(target, i, 3, "linear") for i in (1, 2, 3)]
    assert steps[-1] == target
    assert steps[0].p_embd == pytest.approx(0.8)
    assert steps[1].p_svd == pytest.approx(2 / 3)
    assert all(a.p_weight >= b.p_weight for a, b in itertools.pairwise(steps))


def test_compress_job_reaches_the_predicted_size_and_reports_every_iteration(
    tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path
) -> None:
    seen: list[tuple[int, float, int, float]] = []
    ratios = Ratios(0.5, 0.6, 0.5)
    metrics = compress_job(
        model=str(tiny_model_dir),
        task=tiny_task(tiny_csv),
        ratios=ratios,
        training=TrainingSettings(iterations=2, steps=3, batch_size=16, learning_rate=1e-3),
        teacher_config=TINY_TEACHER,
        device="cpu",
        out_dir=tmp_path / "student",
        callback=lambda *args: seen.append(args),
        cache_dir=tmp_path / "cache",
        quiet=True,
    )
    assert [s[0] for s in seen] == [1, 2]
    assert seen[0][2] > seen[1][2]  # each iteration compresses further
    from ladasearch.models import load_classifier

    teacher, _ = load_classifier(str(tiny_model_dir), ["neg", "pos"])
    expected = predict_params(parameter_groups(teacher), ratios)
    assert abs(metrics["params"] - expected) <= 0.005 * expected
    assert metrics["ratio"] == pytest.approx(metrics["params"] / metrics["teacher_params"])
    for key in (
        "accuracy",
        "teacher_accuracy",
        "test_accuracy",
        "latency_ms",
        "latency_ms_b32",
        "bytes_on_disk",
    ):
        assert key in metrics, key
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert Path(metrics["model_dir"], "model.safetensors").is_file()
    # latency as the export runs: every compressed linear in its measured runtime form
    assert sum(metrics["latency_forms"].values()) == 2 * 6
    assert metrics["teacher_latency_ms_b32"] > 0 and metrics["latency_ms_b32"] > 0


def test_masks_hold_through_distillation(
    tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path
) -> None:
    from ladasearch.compression.serialize import load_compressed

    compress_job(
        model=str(tiny_model_dir),
        task=tiny_task(tiny_csv),
        ratios=Ratios(1.0, 0.8, 0.3),
        training=TrainingSettings(iterations=1, steps=5, batch_size=16, learning_rate=1e-2),
        teacher_config=TINY_TEACHER,
        device="cpu",
        out_dir=tmp_path / "student",
        measure_latency=False,
        cache_dir=tmp_path / "cache",
        quiet=True,
    )
    model, _, _ = load_compressed(tmp_path / "student")
    factorized = [m for m in model.modules() if isinstance(m, FactorizedLinear)]
    assert factorized
    for layer in factorized:
        assert torch.count_nonzero(layer.a * ~layer.mask_a.bool()) == 0
        assert torch.count_nonzero(layer.b * ~layer.mask_b.bool()) == 0


def test_a_diverging_run_raises_training_diverged(
    tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path
) -> None:
    with pytest.raises(TrainingDiverged):
        compress_job(
            model=str(tiny_model_dir),
            task=tiny_task(tiny_csv),
            ratios=Ratios(0.5, 0.5, 0.5),
            training=TrainingSettings(iterations=2, steps=5, batch_size=16, learning_rate=1e30),
            teacher_config=TINY_TEACHER,
            device="cpu",
            measure_latency=False,
            cache_dir=tmp_path / "cache",
            quiet=True,
        )


def test_compress_command_prints_json_last(
    tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "compress",
            "--model",
            str(tiny_model_dir),
            "--task",
            f"csv:{tiny_csv}",
            "--text-column",
            "sentence",
            "--label-column",
            "sentiment",
            "--p-embd",
            "0.5",
            "--p-svd",
            "0.5",
            "--p-weight",
            "0.5",
            "--iterations",
            "1",
            "--steps",
            "2",
            "--teacher-steps",
            "5",
            "--batch-size",
            "16",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--json",
            "--quiet",
            "--no-latency",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in (
        "accuracy",
        "teacher_accuracy",
        "params",
        "teacher_params",
        "ratio",
        "p_embd",
        "p_svd",
        "p_weight",
    ):
        assert key in result, key
    assert result["p_svd"] == 0.5


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--p-embd", "1.5", "--p-svd", "0.5", "--p-weight", "0.5"], "p_embd"),
        (["--p-embd", "0.5", "--p-svd", "0", "--p-weight", "0.5"], "p_svd"),
    ],
)
def test_compress_refuses_bad_ratios_in_one_line(
    tiny_model_dir: Path,
    tiny_csv: Path,
    argv: list[str],
    needle: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["compress", "--model", str(tiny_model_dir), "--task", f"csv:{tiny_csv}", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and needle in err


def test_compress_refuses_a_missing_column_in_one_line(
    tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "compress",
            "--model",
            str(tiny_model_dir),
            "--task",
            f"csv:{tiny_csv}",
            "--text-column",
            "review",
            "--p-embd",
            "0.5",
            "--p-svd",
            "0.5",
            "--p-weight",
            "0.5",
            "--cache-dir",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "review" in err and str(tiny_csv.name) in err


def test_budget_command_reports_groups_and_ranges(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["budget", "--model", str(tiny_model_dir), "--target", "2x", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    groups = report["groups"]
    assert groups["total"] == groups["embedding"] + groups["encoder"] + groups["fixed"]
    assert report["target"] == 0.5
    for low, high in report["feasible"].values():
        assert 0 < low <= high <= 1


def test_budget_command_refuses_an_infeasible_target(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["budget", "--model", str(tiny_model_dir), "--target", "500x"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "smallest reachable" in err

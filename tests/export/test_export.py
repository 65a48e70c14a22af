"""``ladasearch export`` / ``predict``: choosing a trial, the files written, loading them back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from dashboard_helpers import FakeTrial, add_study
from optuna.trial import TrialState

import ladasearch
from ladasearch.cli import main
from ladasearch.compression.accounting import count_nonzero_params
from ladasearch.compression.evaluate import file_sha256
from ladasearch.compression.plan import compress_
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.serialize import save_compressed
from ladasearch.errors import LadaError, StorageError
from ladasearch.export import RETRAINED_NOTE, export_trial, select_trial
from ladasearch.models import load_classifier
from ladasearch.search.studydb.records import StudyRecord, TrialRecord, load_studies

RATIOS = Ratios(0.5, 0.5, 0.6)


def save_tiny(model_dir: Path, out: Path) -> tuple[Path, int]:
    """Compress the tiny fixture model to ``RATIOS`` and save it as a trial would."""
    model, tokenizer = load_classifier(str(model_dir), ["neg", "pos"])
    compress_(model, RATIOS)
    save_compressed(model, tokenizer, out, metadata={"note": "test"})
    return out, count_nonzero_params(model)


@pytest.fixture
def storage(tmp_path: Path, tiny_model_dir: Path) -> tuple[str, int]:
    folder, params = save_tiny(tiny_model_dir, tmp_path / "runs" / "trial_0" / "model")
    kept = {
        "model_dir": str(folder),
        "model_sha256": file_sha256(folder / "model.safetensors"),
        **RATIOS.to_dict(),
        "latency_ms": 1.5,
    }
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    teacher = 100_000
    add_study(
        url,
        "tiny",
        [
            FakeTrial(0.75, params, extra=kept),  # 0: kept model
            FakeTrial(0.80, params * 2, extra={**RATIOS.to_dict()}),  # 1: more accurate, not kept
            FakeTrial(0.90, params / 2, TrialState.PRUNED),  # 2: never exported
        ],
        teacher_params=teacher,
        teacher_accuracy=0.82,
        study_attrs={"settings": {"trial": {"iterations": 2, "steps": 5}, "seed": 0}},
    )
    return url, params


def test_select_trial_rules() -> None:
    def t(number: int, accuracy: float, params: float, state: str = "COMPLETE") -> TrialRecord:
        return TrialRecord(
            "s", number, number, state, user_attrs={"accuracy": accuracy, "params": params}
        )

    study = StudyRecord(
        "s", trials=(t(0, 0.70, 100), t(1, 0.80, 300), t(2, 0.75, 200), t(3, 0.95, 50, "PRUNED"))
    )
    assert select_trial(study).number == 1  # most accurate finished
    assert select_trial(study, max_params=250).number == 2  # most accurate under the size
    assert select_trial(study, min_accuracy=0.72).number == 2  # smallest over the accuracy
    assert select_trial(study, min_accuracy=0.72, max_params=250).number == 2  # both: most accurate
    assert select_trial(study, number=0).number == 0
    with pytest.raises(LadaError, match="no finished trial of study 's' has params <= 10"):
        select_trial(study, max_params=10)
    with pytest.raises(LadaError, match="trial 3 of study 's' is PRUNED"):
        select_trial(study, number=3)
    with pytest.raises(StorageError, match="has no trial 9"):
        select_trial(study, number=9)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_export_best_writes_model_config_and_card(
    storage: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, params = storage
    out = tmp_path / "export"
    code, printed, err = run(
        ["export", "tiny", "--best", "--max-params", str(params), "--storage", url, "-o", str(out)],
        capsys,
    )
    assert code == 0, err
    assert "exporting trial 0 of tiny: accuracy 0.7500" in printed
    names = {p.name for p in out.iterdir()}
    assert {
        "README.md",
        "ladasearch-config.yaml",
        "ladasearch-config.json",
        "model.safetensors",
        "ladasearch.json",
    } <= names
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export.")]  # no staging left
    assert not (out / ".retrained").exists()

    config: dict[str, Any] = yaml.safe_load((out / "ladasearch-config.yaml").read_text())
    assert config == json.loads((out / "ladasearch-config.json").read_text())
    assert config["ratios"] == RATIOS.to_dict()
    assert config["source"]["study"] == "tiny" and config["source"]["trial_number"] == 0
    assert config["source"]["retrained"] is False
    assert config["metrics"]["accuracy"] == 0.75 and config["metrics"]["params"] == params
    schedule = config["schedule"]["trial"]  # the validated section: defaults filled in
    assert (schedule["iterations"], schedule["steps"], schedule["factorization"]) == (2, 5, "whiten")
    assert set(config["versions"]) >= {"torch", "transformers", "optuna", "ray", "ladasearch"}
    matrices = config["matrices"]
    assert len(matrices) == 1 + 2 * 6  # the embedding + 6 linears in each of the 2 layers
    linear = next(m for m in matrices if m["kind"] == "factorized")
    assert linear["rank"] >= 1 and 0.35 < linear["sparsity"] < 0.45  # P_weight 0.6 keeps 60%
    embedding = next(m for m in matrices if m["kind"] == "factorized_embedding")
    assert embedding["rank"] >= 1
    assert sum(m["nonzero"] for m in matrices) < params  # biases and LayerNorms are the rest

    card = (out / "README.md").read_text()
    assert "| dev accuracy | 0.8200 | 0.7500 |" in card
    assert "ladasearch.load(" in card and "ladasearch predict" in card
    from huggingface_hub import ModelCard

    hub = ModelCard.load(out / "README.md")  # the Hub's metadata header parses
    assert hub.data.pipeline_tag == "text-classification" and "ladasearch" in hub.data.tags

    predictions = ladasearch.load(out, device="cpu").predict(["a good film", "a dull film"])
    assert [p.label for p in predictions] != [] and all(
        p.label in ("neg", "pos") for p in predictions
    )
    assert all(abs(sum(p.probabilities.values()) - 1) < 1e-5 for p in predictions)

    code, printed, _ = run(
        ["predict", str(out), "--text", "a good film", "--json", "--device", "cpu"], capsys
    )
    assert code == 0
    row = json.loads(printed.strip().splitlines()[-1])
    assert row["label"] in ("neg", "pos") and 0.5 <= row["score"] <= 1.0
    code, printed, _ = run(
        ["predict", str(out), "--text", "a good film", "--device", "cpu"], capsys
    )
    assert code == 0 and printed.split()[0] in ("neg", "pos")


def test_export_nothing_qualifies_writes_nothing(
    storage: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = storage
    out = tmp_path / "never"
    code, printed, err = run(
        ["export", "tiny", "--best", "--max-params", "10", "--storage", url, "-o", str(out)], capsys
    )
    assert code == 2 and printed == ""
    assert err.strip() == (
        "ladasearch: error: no finished trial of study 'tiny' has params <= 10 (2 finished); "
        "nothing exported"
    )
    assert not out.exists()
    code, _, err = run(
        ["export", "tiny", "--min-accuracy", "0.99", "--storage", url, "-o", str(out)], capsys
    )
    assert code == 2 and "accuracy >= 0.99" in err and not out.exists()


def test_export_refuses_non_empty_dir_without_force(
    storage: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = storage
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run(["export", "tiny", "--trial", "0", "--storage", url, "-o", str(out)], capsys)
    assert code == 2 and "is not empty: pass --force" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    code, _, err = run(
        ["export", "tiny", "--trial", "0", "--storage", url, "-o", str(out), "--force"], capsys
    )
    assert code == 2 and "is not an earlier export" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]  # nothing foreign is ever removed


def test_export_missing_study_or_trial_is_one_line(
    storage: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = storage
    code, _, err = run(["export", "nope", "--storage", url, "-o", str(tmp_path / "x")], capsys)
    assert (
        code == 2
        and err.strip()
        == "ladasearch: error: no study named 'nope' in the database (studies: tiny)"
    )
    code, _, err = run(
        ["export", "tiny", "--trial", "7", "--storage", url, "-o", str(tmp_path / "x")], capsys
    )
    assert (
        code == 2
        and err.strip() == "ladasearch: error: study 'tiny' has no trial 7 (it has trials 0..2)"
    )
    assert not (tmp_path / "x").exists()


def test_export_refuses_a_changed_model(
    storage: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = storage
    (study,) = load_studies(["tiny"], url)
    weights = Path(study.trial(0).user_attrs["model_dir"]) / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b"\0")
    code, _, err = run(
        ["export", "tiny", "--trial", "0", "--storage", url, "-o", str(tmp_path / "x")], capsys
    )
    assert code == 2 and "does not match its recorded sha256" in err
    assert not (tmp_path / "x").exists()


def test_export_retrains_a_model_that_was_not_kept(
    storage: tuple[str, int], tmp_path: Path, tiny_model_dir: Path
) -> None:
    url, _ = storage
    (study,) = load_studies(["tiny"], url)
    calls: list[int] = []

    def retrain(study: StudyRecord, trial: TrialRecord, folder: Path) -> dict[str, Any]:
        calls.append(trial.number)
        _, params = save_tiny(tiny_model_dir, folder)
        return {"accuracy": 0.79, "test_accuracy": 0.78, "params": params}

    with pytest.raises(LadaError, match=r"was not kept .* pass --retrain"):
        export_trial(study, select_trial(study), tmp_path / "re", retrain=retrain)
    assert calls == [] and not (tmp_path / "re").exists()
    result = export_trial(
        study,
        select_trial(study),
        tmp_path / "re",
        retrain=retrain,
        allow_retrain=True,
        device="cpu",
    )
    assert calls == [1] and result.retrained
    assert result.config["source"]["retrained"] is True
    assert result.config["metrics"]["accuracy"] == 0.79  # the retrained model's own metrics
    card = (tmp_path / "re" / "README.md").read_text()
    assert RETRAINED_NOTE in card and "| dev accuracy | 0.8200 | 0.7900 |" in card
    assert ladasearch.load(tmp_path / "re", device="cpu").predict("fine")[0].label in ("neg", "pos")


def test_demo_study_budget_fits_fifteen_minutes(tmp_path: Path) -> None:
    from ladasearch.demo import budget_summary, demo_study, estimated_seconds

    study = demo_study(tmp_path)
    assert (study.model, study.task, study.mode, study.keep_models) == (
        "minilm",
        "rt",
        "pareto",
        True,
    )
    assert study.runs_dir == str((tmp_path / "runs").resolve())
    assert estimated_seconds(study) <= 15 * 60
    assert (
        "reduced demo budget: 6 trials (3 seed points, then the tpe sampler's choices) "
        "x 2 iterations x 40 distillation steps" in budget_summary(study)
    )
    smaller = demo_study(tmp_path, trials=1, steps=2, iterations=1)
    assert (smaller.trials, smaller.trial.steps, smaller.trial.iterations) == (1, 2, 1)


def test_card_warns_when_the_exported_model_is_not_above_the_majority_class(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, params = save_tiny(tiny_model_dir, tmp_path / "runs" / "trial_0" / "model")
    weak = {  # a trial checked on dev only (run with score_test=False): no test fields
        "model_dir": str(folder),
        "model_sha256": file_sha256(folder / "model.safetensors"),
        **RATIOS.to_dict(),
        "majority_accuracy": 0.75,
        "student_majority_p": 0.5,
        "student_significant": False,
    }
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    add_study(
        url,
        "weak",
        [FakeTrial(0.75, params, extra=weak)],
        teacher_params=100_000,
        study_attrs={"settings": {"trial": {"iterations": 2, "steps": 5}, "seed": 0}},
    )
    out = tmp_path / "export"
    code, _, err = run(["export", "weak", "--trial", "0", "--storage", url, "-o", str(out)], capsys)
    assert code == 0, err
    config = json.loads((out / "ladasearch-config.json").read_text())
    assert config["metrics"]["student_significant"] is False
    card = (out / "README.md").read_text()
    warnings = [line for line in card.splitlines() if "WARNING" in line]
    assert warnings == [
        "> WARNING: the compressed model (0.7500 dev accuracy) is not significantly better than "
        "always predicting the majority class (0.7500; one-sided McNemar p=0.5): its retained "
        "share counts the majority class's answers, not what it kept of the teacher; compress "
        "less, or distill longer (--steps, --iterations)"
    ]

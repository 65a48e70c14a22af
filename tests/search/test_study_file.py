"""Study files: the shipped ones parse; every broken key is refused naming the key and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ladasearch.errors import StudyFileError
from ladasearch.search.study_file import load_study_file, parse_study

REPO = Path(__file__).resolve().parents[2]
BASE: dict[str, Any] = {"name": "x", "target": "5x", "trial": {"steps": 10}}


def test_shipped_study_files_parse() -> None:
    fixed = load_study_file(REPO / "studies" / "rt_minilm_5x.yaml")
    assert (fixed.mode, fixed.target, fixed.trials, fixed.scheduler) == ("fixed", 0.2, 4, "asha")
    assert fixed.resources.gpu == 0 and fixed.trial.iterations * fixed.trial.steps <= 100
    pareto = load_study_file(REPO / "studies" / "rt_minilm_pareto.yaml")
    assert pareto.target_range == pytest.approx((0.1, 0.4)) and pareto.objectives == (
        "accuracy",
        "params",
    )
    sst2 = load_study_file(REPO / "studies" / "sst2_bert_base.yaml")
    assert (sst2.model, sst2.task, sst2.enqueue) == (
        "bert-base-uncased",
        "glue/sst2",
        "paper_table2",
    )
    assert (
        sst2.resources.gpu == 1 and sst2.trial.batch_size == 32 and sst2.trial.learning_rate == 2e-5
    )
    assert fixed.directions == ["maximize"] and pareto.directions == ["maximize", "minimize"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trial": {"steps": -3}}, "x.yaml: trial.steps must be a positive integer, got -3"),
        ({"colour": "red"}, "x.yaml: unknown key colour"),
        ({"trial": {"step": 3}}, "x.yaml: unknown key trial.step"),
        ({"target": 1.5}, "x.yaml: target must be a ratio in (0, 1]"),
        ({"target": "0.5y"}, "x.yaml: target must be a ratio"),
        ({"target": None}, "x.yaml: target is required"),
        ({"mode": "best"}, "x.yaml: mode must be one of fixed, pareto"),
        ({"trials": "ten"}, "x.yaml: trials must be a positive integer, got 'ten'"),
        (
            {"trial": {"learning_rate": "fast"}},
            "x.yaml: trial.learning_rate must be a positive number",
        ),
        ({"resources": {"gpu": -1}}, "x.yaml: resources.gpu must be a number >= 0"),
        ({"teacher": {"seed": "zero"}}, "x.yaml: teacher.seed must be an integer >= 0"),
        ({"resources": 4}, "x.yaml: resources must be a mapping"),
        ({"space": "grid"}, "x.yaml: space must be one of constrained, independent, rejection"),
        ({"sampler": "cmaes"}, "x.yaml: sampler must be one of"),
        ({"keep_models": "yes"}, "x.yaml: keep_models must be true or false"),
        (
            {"trial": {"factorization": ["svd", "qr"]}},
            "x.yaml: trial.factorization items must be among svd, fisher, whiten, got 'qr'",
        ),
        (
            {"trial": {"factorization": ["svd", "svd"]}},
            "x.yaml: trial.factorization a searched list needs 2 or more distinct methods",
        ),
        ({"trial": {"factorization": "qr"}}, "x.yaml: trial.factorization must be one of"),
        ({"objectives": ["accuracy", "params"]}, "x.yaml: objectives of a fixed-target study"),
        (
            {"enqueue": [{"p_embd": 0.5, "p_svd": 2, "p_weight": 0.5}]},
            "x.yaml: enqueue[0].p_svd must be a ratio",
        ),
        ({"enqueue": [{"p_embd": 0.5}]}, "x.yaml: enqueue[0] must have exactly the keys"),
        ({"space": "rejection", "enqueue": "paper_table2"}, "x.yaml: enqueue is not available"),
        ({"target_range": ["2.5x", "10x"]}, "x.yaml: target_range is for mode: pareto"),
        (
            {"mode": "pareto", "target": None, "target_range": [0.2]},
            "x.yaml: target_range must be a list",
        ),
        (
            {"mode": "pareto", "target": None, "target_range": ["2x", "4x"], "scheduler": "asha"},
            "x.yaml: scheduler",
        ),
    ],
)
def test_broken_keys_are_named(change: dict[str, Any], message: str) -> None:
    data = {**BASE, **change}
    data = {key: value for key, value in data.items() if value is not None}
    with pytest.raises(StudyFileError) as raised:
        parse_study(data, source="x.yaml")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_teacher_seed_follows_the_study_seed_unless_pinned() -> None:
    from ladasearch.search.trainable import TrialContext, teacher_config
    from ladasearch.tasks import TaskSpec

    def seed_of(data: dict[str, Any]) -> int:
        study = parse_study(data)
        context = TrialContext(
            storage_url="sqlite://",
            study_name=study.name,
            model=study.model,
            task=TaskSpec(study.task),
            trial=study.trial,
            teacher=study.teacher,
            seed=study.seed,
            study_dir=".",
            keep_models=False,
            cpus=1,
        )
        return int(teacher_config(context).seed)

    assert seed_of({**BASE, "seed": 3}) == 3
    assert seed_of({**BASE, "seed": 3, "teacher": {"seed": 0}}) == 0
    assert parse_study({**BASE, "teacher": {"seed": 0}}).teacher.seed == 0


def test_targets_accept_factors_and_ratios() -> None:
    assert parse_study({"name": "a", "target": "5x"}).target == pytest.approx(0.2)
    assert parse_study({"name": "a", "target": 0.25}).target == 0.25
    pareto = parse_study({"name": "a", "mode": "pareto", "target_range": ["10x", 0.4]})
    assert pareto.target_range == pytest.approx((0.1, 0.4)) and pareto.scheduler == "none"


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(StudyFileError, match="cannot read"):
        load_study_file(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(StudyFileError, match=r"broken.yaml: not valid YAML \(line"):
        load_study_file(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(StudyFileError, match="must be a YAML mapping"):
        load_study_file(listed)


def test_docker_compose_topology_parses() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "ray-head", "ray-worker", "optuna-dashboard", "search"} <= set(services)
    assert "pgdata" in compose["volumes"]
    gpu = services["ray-worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert all(port.startswith("127.0.0.1:") for port in services["optuna-dashboard"]["ports"])
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    assert "POSTGRES_PASSWORD=" not in text.replace("POSTGRES_PASSWORD=${", "")
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    assert "POSTGRES_PASSWORD=" in example


def test_a_factorization_list_is_searched_and_stored() -> None:
    """``trial.factorization: [a, b]`` searches the method; its first item is the default."""
    study = parse_study({**BASE, "trial": {"factorization": ["svd", "whiten"]}}, source="x.yaml")
    assert study.factorizations == ("svd", "whiten") and study.trial.factorization == "svd"
    assert study.to_dict()["factorizations"] == ["svd", "whiten"]
    fixed = parse_study({**BASE, "trial": {"factorization": "fisher"}}, source="x.yaml")
    assert fixed.factorizations == () and fixed.trial.factorization == "fisher"

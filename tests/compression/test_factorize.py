"""Data-aware factorizations: exact eq. 7 counts, the error each one minimises, cached statistics."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertForSequenceClassification

from ladasearch.compression.accounting import (
    count_nonzero_params,
    parameter_groups,
    predict_params,
)
from ladasearch.compression.factor_stats import collect_statistics
from ladasearch.compression.factorize import (
    Factorizer,
    cholesky_of_gram,
    fisher_factors,
    whitened_factors,
)
from ladasearch.compression.matrix_ops import svd_factors
from ladasearch.compression.pipeline import compress_job
from ladasearch.compression.plan import compress_
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import TrainingSettings
from ladasearch.compression.teacher import TeacherConfig
from ladasearch.tasks import TaskSpec

TINY_TEACHER = TeacherConfig(steps=20, batch_size=16, learning_rate=1e-3)


def _batches(n: int = 3) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(n):
        ids = torch.randint(5, 30, (4, 12), generator=generator)  # (batch, seq)
        mask = torch.ones_like(ids)
        mask[:, 9:] = 0  # some padding
        labels = torch.randint(0, 2, (4,), generator=generator)
        batches.append({"input_ids": ids, "attention_mask": mask, "labels": labels})
    return batches


@pytest.mark.parametrize("method", ["svd", "fisher", "whiten"])
def test_every_factorization_meets_eq7_exactly(
    tiny_bert: BertForSequenceClassification, method: str
) -> None:
    groups = parameter_groups(tiny_bert)
    stats = collect_statistics(tiny_bert, _batches(), method, torch.device("cpu"))
    factorizer = Factorizer(method, stats)
    for ratios in (Ratios(0.6, 0.7, 0.8), Ratios(0.4, 0.5, 0.6)):
        compress_(tiny_bert, ratios, factorizer=factorizer)
        assert count_nonzero_params(tiny_bert) == predict_params(groups, ratios)
    assert tiny_bert(input_ids=_batches(1)[0]["input_ids"]).logits.isfinite().all()


def test_fisher_minimises_the_row_weighted_error() -> None:
    torch.manual_seed(0)
    weight = torch.randn(40, 30)
    importance = torch.rand(40) ** 4 * 10  # (m,)
    scale = importance.sqrt()[:, None]

    def weighted(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((scale * (weight - a @ b)).norm())

    assert weighted(*fisher_factors(weight, 8, importance)) < weighted(*svd_factors(weight, 8))


def test_whitening_minimises_the_output_error_on_the_inputs() -> None:
    torch.manual_seed(0)
    weight = torch.randn(40, 30)
    inputs = torch.randn(500, 30) * torch.linspace(0.1, 3.0, 30)  # (tokens, n), anisotropic
    low = cholesky_of_gram(inputs.T @ inputs)

    def output_error(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((inputs @ (weight - a @ b).T).norm())

    whitened = whitened_factors(weight, 8, low)
    assert output_error(*whitened) < output_error(*svd_factors(weight, 8))
    full = whitened_factors(weight, 30, low)  # full rank reproduces W
    torch.testing.assert_close(full[0] @ full[1], weight, atol=1e-3, rtol=0)


def test_unknown_factorization_is_one_clear_error() -> None:
    from ladasearch.errors import LadaError

    with pytest.raises(LadaError, match="factorization must be one of svd, fisher, whiten"):
        TrainingSettings(factorization="qr")


@pytest.mark.parametrize("method", ["fisher", "whiten"])
def test_statistics_are_cached_next_to_the_teacher_and_steps_zero_compresses_only(
    tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path, method: str
) -> None:
    task = TaskSpec(f"csv:{tiny_csv}", text_column="sentence", label_column="sentiment")
    kwargs = {
        "model": str(tiny_model_dir),
        "task": task,
        "ratios": Ratios(0.5, 0.5, 0.7),
        "training": TrainingSettings(iterations=1, steps=0, factorization=method),
        "teacher_config": TINY_TEACHER,
        "device": "cpu",
        "cache_dir": tmp_path / "cache",
        "quiet": True,
        "measure_latency": False,
    }
    first = compress_job(**kwargs)  # type: ignore[arg-type]
    cached = list((tmp_path / "cache").rglob(f"factorization-{method}-*.safetensors"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    second = compress_job(**kwargs)  # type: ignore[arg-type]
    assert cached[0].stat().st_mtime_ns == stamp  # read, not recomputed
    assert first["accuracy"] == second["accuracy"]
    assert first["history"][0]["losses"] == {}  # no training step was taken
    assert (len(first["dev_predictions"]), len(first["test_predictions"])) == (36, 40)

"""The baselines' engine pieces: the finetune objective, learning curves, the from-scratch student."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from transformers import BertForSequenceClassification, BertTokenizerFast

from ladasearch.compression.distill import DistillSettings, distill_phase, phase_losses
from ladasearch.compression.loop import run_ladabert
from ladasearch.compression.pipeline import compress_job
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import TrainingSettings
from ladasearch.compression.scratch import (
    build_student,
    count_config_params,
    layer_map,
    scratch_trainer,
    student_shape,
)
from ladasearch.compression.teacher import TeacherConfig
from ladasearch.errors import LadaError
from ladasearch.tasks import TaskSpec, encode, load_task, make_loader
from ladasearch.testing import tiny_bert_config


@pytest.fixture
def task_and_tokenizer(tiny_model_dir, tiny_csv):  # type: ignore[no-untyped-def]
    spec = TaskSpec(f"csv:{tiny_csv}", text_column="sentence", label_column="sentiment")
    return load_task(spec), BertTokenizerFast.from_pretrained(tiny_model_dir)


@pytest.fixture
def eager_bert(tiny_bert):  # type: ignore[no-untyped-def]
    tiny_bert.set_attn_implementation("eager")  # distillation reads attention maps
    return tiny_bert


def _batches(task, tokenizer, size=16):  # type: ignore[no-untyped-def]
    loader = make_loader(encode(task.train, tokenizer, 16), size, shuffle=True, seed=0)
    return itertools.cycle(list(loader))


def test_budget_validates_objective_and_eval_every() -> None:
    assert TrainingSettings(objective="finetune").objective == "finetune"
    with pytest.raises(LadaError, match="objective"):
        TrainingSettings(objective="kd")
    with pytest.raises(LadaError, match="eval_every"):
        TrainingSettings(eval_every=0)
    with pytest.raises(ValueError, match="objective"):
        DistillSettings(steps=1, objective="nope")


def test_finetune_objective_lowers_cross_entropy(eager_bert, task_and_tokenizer) -> None:  # type: ignore[no-untyped-def]
    task, tokenizer = task_and_tokenizer
    batch = next(iter(make_loader(encode(task.train, tokenizer, 16), 64, shuffle=False)))
    settings = DistillSettings(steps=80, learning_rate=3e-3, objective="finetune")
    with torch.no_grad():
        before = float(phase_losses(eager_bert, eager_bert, batch, settings)["total"])
    teacher = copy.deepcopy(eager_bert)
    losses = distill_phase(
        eager_bert, teacher, _batches(task, tokenizer), settings, torch.device("cpu")
    )
    assert set(losses) == {"cross_entropy", "total"}
    with torch.no_grad():
        after = float(phase_losses(eager_bert, eager_bert, batch, settings)["total"])
    assert after < before - 0.1  # from chance (ln 2) towards the cue words


def test_step_callback_every_eval_every_steps(eager_bert, task_and_tokenizer) -> None:  # type: ignore[no-untyped-def]
    task, tokenizer = task_and_tokenizer
    seen: list[tuple[int, dict[str, float]]] = []
    training = TrainingSettings(iterations=2, steps=3, batch_size=16, max_length=16, eval_every=2)
    result = run_ladabert(
        eager_bert,
        tokenizer,
        task,
        Ratios(0.8, 0.8, 0.8),
        training,
        device=torch.device("cpu"),
        step_callback=lambda step, scores: seen.append((step, scores)),
    )
    assert [step for step, _ in seen] == [2, 4, 6]
    assert all(0.0 <= scores["accuracy"] <= 1.0 for _, scores in seen)
    assert all(scores["nll"] > 0.0 for _, scores in seen)  # a continuous score beside accuracy
    assert len(result.history) == 2


def test_dev_passes_at_the_rungs_do_not_change_how_a_student_trains(task_and_tokenizer) -> None:  # type: ignore[no-untyped-def]
    """A trial reviewed every step ends with the same weights as one never reviewed."""
    task, tokenizer = task_and_tokenizer
    torch.manual_seed(0)
    config = tiny_bert_config(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    teacher = BertForSequenceClassification(config).eval()  # dropout draws from the RNG
    teacher.set_attn_implementation("eager")
    finals = []
    for eval_every in (None, 1):
        training = TrainingSettings(
            iterations=1, steps=4, batch_size=16, max_length=16, eval_every=eval_every
        )
        result = run_ladabert(
            copy.deepcopy(teacher),
            tokenizer,
            task,
            Ratios(0.8, 0.8, 0.8),
            training,
            device=torch.device("cpu"),
            seed=3,
            step_callback=(lambda step, scores: None) if eval_every else None,
        )
        finals.append({k: v.detach().clone() for k, v in result.student.state_dict().items()})
    unreviewed, reviewed = finals
    assert unreviewed.keys() == reviewed.keys()
    assert all(torch.equal(unreviewed[k], reviewed[k]) for k in unreviewed)


def test_layer_map_follows_tinybert_rule() -> None:
    assert layer_map(4, 12) == (2, 5, 8, 11)
    assert layer_map(2, 6) == (2, 5)
    assert layer_map(4, 6) == (1, 2, 4, 5)
    assert layer_map(2, 2) == (0, 1)


@pytest.mark.parametrize("ratio", [0.5, 0.3])
def test_scratch_student_hits_its_target_size(eager_bert, ratio: float) -> None:  # type: ignore[no-untyped-def]
    teacher_params = sum(p.numel() for p in eager_bert.parameters())
    student, align, shape = build_student(eager_bert, ratio)
    params = sum(p.numel() for p in student.parameters())
    assert params == shape.params == count_config_params(student.config)
    assert abs(params - ratio * teacher_params) <= 0.05 * ratio * teacher_params
    assert len(align.layer_map) == shape.layers
    assert type(student).__name__ == type(eager_bert).__name__


def test_scratch_shape_refuses_an_unreachable_target(eager_bert) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LadaError, match="within 5%"):
        student_shape(eager_bert.config, 10)


def test_scratch_distillation_loss_decreases(eager_bert, task_and_tokenizer) -> None:  # type: ignore[no-untyped-def]
    task, tokenizer = task_and_tokenizer
    student, align, _ = build_student(eager_bert, 0.4)
    settings = DistillSettings(steps=1, learning_rate=3e-3)
    batch = next(iter(make_loader(encode(task.train, tokenizer, 16), 64, shuffle=False)))
    with torch.no_grad():
        before = float(phase_losses(student, eager_bert, batch, settings, align)["total"])
    losses = distill_phase(
        student,
        eager_bert,
        _batches(task, tokenizer),
        DistillSettings(steps=25, learning_rate=3e-3),
        torch.device("cpu"),
        align=align,
    )
    assert {"embedding", "hidden", "attention", "prediction", "total"} <= set(losses)
    with torch.no_grad():
        after = float(phase_losses(student, eager_bert, batch, settings, align)["total"])
    assert after < before


def test_scratch_job_scores_like_a_compress_job(tiny_model_dir, tiny_csv, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = TaskSpec(f"csv:{tiny_csv}", text_column="sentence", label_column="sentiment")
    curve: list[int] = []
    metrics = compress_job(
        model=str(tiny_model_dir),
        task=spec,
        ratios=Ratios.identity(),
        training=TrainingSettings(iterations=2, steps=2, batch_size=16, max_length=16, eval_every=2),
        teacher_config=TeacherConfig(steps=2, batch_size=16, max_length=16),
        device="cpu",
        out_dir=tmp_path / "model",
        cache_dir=tmp_path / "cache",
        quiet=True,
        measure_latency=False,
        step_callback=lambda step, _: curve.append(step),
        trainer=scratch_trainer(0.5),
    )
    assert metrics["method"] == "scratch"
    assert curve == [2, 4]
    assert abs(metrics["ratio"] - 0.5) <= 0.05 * 0.5
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["bytes_on_disk"] > 0


def test_teacher_init_copies_dropped_layers_and_leading_slices(eager_bert) -> None:  # type: ignore[no-untyped-def]
    student, align, shape = build_student(eager_bert, 0.5, init="teacher")
    s_state, t_state = student.state_dict(), eager_bert.state_dict()
    for i, j in enumerate(align.layer_map):
        name = f"bert.encoder.layer.{i}.attention.self.query.weight"
        rows, cols = s_state[name].shape
        assert torch.equal(
            s_state[name],
            t_state[f"bert.encoder.layer.{j}.attention.self.query.weight"][:rows, :cols],
        )
    words = "bert.embeddings.word_embeddings.weight"
    assert torch.equal(s_state[words], t_state[words][:, : shape.hidden])
    random_student, _, _ = build_student(eager_bert, 0.5, init="random")
    assert not torch.equal(random_student.state_dict()[words], s_state[words])
    with pytest.raises(LadaError, match="init must be one of teacher, random"):
        build_student(eager_bert, 0.5, init="zeros")

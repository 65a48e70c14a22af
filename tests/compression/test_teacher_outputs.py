"""Teacher outputs computed once: a second trial of the study reads them instead of the teacher."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertForSequenceClassification

from ladasearch.compression.pipeline import compress_job
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import TrainingSettings
from ladasearch.compression.teacher import TeacherConfig
from ladasearch.compression.teacher_outputs import TeacherOutputCache
from ladasearch.tasks import TaskSpec


def test_the_cache_returns_what_the_teacher_computes(
    tiny_bert: BertForSequenceClassification, tmp_path: Path
) -> None:
    ids = torch.randint(5, 30, (3, 9))  # (batch, seq)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    cache = TeacherOutputCache(tmp_path / "outputs")
    first = cache.outputs(tiny_bert, inputs, want_attn=True)
    reference = tiny_bert(**inputs, output_hidden_states=True, output_attentions=True)
    torch.testing.assert_close(first["logits"], reference.logits, atol=2e-3, rtol=1e-3)
    assert len(first["attentions"]) == len(reference.attentions)
    fresh = TeacherOutputCache(tmp_path / "outputs")  # another worker: reads the disk
    again = fresh.outputs(tiny_bert, inputs, want_attn=True)
    assert (fresh.hits, fresh.misses) == (1, 0)
    for a, b in zip(first["hidden_states"], again["hidden_states"], strict=True):
        assert torch.equal(a, b)


def test_a_second_trial_reads_every_teacher_output(
    tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path
) -> None:
    kwargs = {
        "model": str(tiny_model_dir),
        "task": TaskSpec(f"csv:{tiny_csv}", text_column="sentence", label_column="sentiment"),
        "ratios": Ratios(0.5, 0.5, 0.7),
        "training": TrainingSettings(iterations=2, steps=3, batch_size=16, learning_rate=1e-3),
        "teacher_config": TeacherConfig(steps=20, batch_size=16, learning_rate=1e-3),
        "device": "cpu",
        "cache_dir": tmp_path / "cache",
        "quiet": True,
        "measure_latency": False,
    }
    first = compress_job(**kwargs)  # type: ignore[arg-type]
    second = compress_job(**kwargs)  # type: ignore[arg-type]
    assert first["timings"]["teacher_outputs_computed"] == 6  # 2 iterations x 3 steps
    assert second["timings"]["teacher_outputs_computed"] == 0
    assert second["timings"]["teacher_outputs_cached"] == 6
    assert first["history"] == [
        {**record, "seconds": first["history"][i]["seconds"]}
        for i, record in enumerate(second["history"])
    ]

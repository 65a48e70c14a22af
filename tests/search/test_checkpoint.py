"""Per-iteration checkpoints: a run that crashed after iteration k continues at k + 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import BertForSequenceClassification, BertTokenizerFast

from ladasearch.compression.loop import run_ladabert
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import TrainingSettings
from ladasearch.search.checkpoint import TrialCheckpoint
from ladasearch.tasks import TaskSpec, load_task

BUDGET = TrainingSettings(iterations=3, steps=2, batch_size=16, max_length=16)
RATIOS = Ratios(0.6, 0.7, 0.7)


class _Crash(Exception):
    pass


class _CrashAfter(TrialCheckpoint):
    """Saves like a trial does, then dies (as kill -9 would) after iteration ``after``."""

    def __init__(self, folder: Path, after: int) -> None:
        super().__init__(folder, {"ratios": list(RATIOS.to_dict().values())})
        self.after = after
        self.saved: dict[str, torch.Tensor] = {}

    def save(self, iteration: int, student: Any, history: Any) -> None:
        super().save(iteration, student, history)
        if iteration == self.after:
            self.saved = {k: v.clone() for k, v in student.state_dict().items()}
            raise _Crash


@pytest.fixture
def setup(
    tiny_bert: BertForSequenceClassification, tiny_model_dir: Path, tiny_csv: Path
) -> tuple[Any, Any, Any]:
    tiny_bert.set_attn_implementation("eager")
    spec = TaskSpec(f"csv:{tiny_csv}", text_column="sentence", label_column="sentiment")
    return tiny_bert, BertTokenizerFast.from_pretrained(tiny_model_dir), load_task(spec)


def test_a_crashed_run_resumes_at_its_next_iteration(
    setup: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    teacher, tokenizer, task = setup
    crashing = _CrashAfter(tmp_path / "trial_0", after=2)
    with pytest.raises(_Crash):
        run_ladabert(teacher, tokenizer, task, RATIOS, BUDGET, device=torch.device("cpu"),
                     checkpoint=crashing)  # fmt: skip
    seen: list[int] = []
    resumed = TrialCheckpoint(
        tmp_path / "trial_1", crashing.key, sources=(tmp_path / "trial_0",)
    )  # the retried trial reads the checkpoint of the one it retries
    result = run_ladabert(
        teacher, tokenizer, task, RATIOS, BUDGET, device=torch.device("cpu"),
        callback=lambda it, *_: seen.append(it), checkpoint=resumed,
    )  # fmt: skip
    assert resumed.restored == (tmp_path / "trial_0", 2)
    assert seen == [3]  # iterations 1 and 2 were not run again
    assert [r.iteration for r in result.history] == [1, 2, 3]
    # the restored student was the saved one: rebuild it and compare every tensor
    probe = TrialCheckpoint(tmp_path / "probe", crashing.key, sources=(tmp_path / "trial_0",))
    student = type(teacher)(teacher.config)
    student.set_attn_implementation("eager")
    assert probe.restore(student)[0] == 3
    state = student.state_dict()
    assert state.keys() == crashing.saved.keys()
    assert all(torch.equal(state[k], crashing.saved[k]) for k in state)


def test_a_checkpoint_of_other_ratios_is_ignored(
    setup: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    teacher, tokenizer, task = setup
    crashing = _CrashAfter(tmp_path / "a", after=1)
    with pytest.raises(_Crash):
        run_ladabert(teacher, tokenizer, task, RATIOS, BUDGET, device=torch.device("cpu"),
                     checkpoint=crashing)  # fmt: skip
    other = TrialCheckpoint(tmp_path / "b", {"ratios": [0.5, 0.5, 0.5]}, (tmp_path / "a",))
    student = type(teacher)(teacher.config)
    assert other.restore(student) == (1, [])
    assert other.restored is None

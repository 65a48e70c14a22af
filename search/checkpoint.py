"""Per-iteration checkpoints of a trial's student under the run folder.

After each finished iteration the trial saves its student to ``runs/<study>/trial_<n>/checkpoint``:
``student.safetensors`` (the state dict; never a pickle), then ``checkpoint.json`` (the
compression layout to rebuild the factorized / masked modules, the iteration records, and the
key: ratios, budget, seed and model), written last and atomically, so a crash mid-save leaves the
previous iteration's checkpoint usable. A trial retried after a crash (``retry_of``) restores the
checkpoint of the trial it retries when the key matches, and continues from the next iteration;
the remaining iterations draw their batches in a fresh seeded order.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

from torch import nn

from ladasearch.compression.loop import IterationRecord

__all__ = ["TrialCheckpoint"]

META = "checkpoint.json"


class TrialCheckpoint:
    """An :class:`~ladasearch.compression.pipeline.IterationCheckpoint` in ``folder``.

    ``sources`` are older folders to restore from (the checkpoint of the trial this one retries);
    a checkpoint restores only when its ``key`` equals this one's. ``restored`` says what was.
    """

    def __init__(self, folder: Path, key: dict[str, Any], sources: tuple[Path, ...] = ()) -> None:
        self.folder = folder
        self.key = json.loads(json.dumps(key))  # as it reads back from JSON
        self.sources = sources
        self.restored: tuple[Path, int] | None = None

    def restore(self, student: nn.Module) -> tuple[int, list[IterationRecord]]:
        """Rebuild the newest matching checkpoint into ``student``; (next iteration, records)."""
        from safetensors.torch import load_file

        from ladasearch.compression.plan import apply_layout_

        for folder in (self.folder, *self.sources):
            try:
                meta = json.loads((folder / META).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if meta.get("key") != self.key:
                continue
            apply_layout_(student, meta["layout"])
            student.load_state_dict(load_file(str(folder / meta["state"])), strict=True)
            history = [IterationRecord(**record) for record in meta["history"]]
            self.restored = (folder, int(meta["iteration"]))
            if folder != self.folder:
                self.save(int(meta["iteration"]), student, history)
            return int(meta["iteration"]) + 1, history
        return 1, []

    def save(self, iteration: int, student: nn.Module, history: list[IterationRecord]) -> None:
        """Save ``student`` after ``iteration``: the tensors, then the JSON that points at them."""
        from safetensors.torch import save_file

        from ladasearch.compression.plan import compression_layout

        self.folder.mkdir(parents=True, exist_ok=True)
        state = f"student-{iteration}.safetensors"
        tensors = {
            k: v.detach().cpu().clone().contiguous() for k, v in student.state_dict().items()
        }
        save_file(tensors, str(self.folder / state))
        meta = {
            "key": self.key,
            "iteration": iteration,
            "state": state,
            "layout": compression_layout(student),
            "history": [dataclasses.asdict(record) for record in history],
        }
        tmp = self.folder / (META + ".tmp")
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, self.folder / META)
        for old in self.folder.glob("student-*.safetensors"):
            if old.name != state:
                old.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete this checkpoint and its sources (the trial finished)."""
        for folder in (self.folder, *self.sources):
            shutil.rmtree(folder, ignore_errors=True)

"""The teacher's outputs, computed once per batch and shared by every iteration and trial.

Every trial of a study draws its training batches from a loader seeded with the study's seed, so
all trials (and every later pass of one trial) see the same sequence of batches. The teacher is
frozen, so its outputs on a batch never change: :class:`TeacherOutputCache` keys them by a sha256
of the batch's input tensors and keeps them in float16, in the worker's memory and, when given a
folder (``<teacher cache>/outputs``), on disk as one safetensors file per batch (no pickle), so
other workers of the study read them instead of running the teacher. Both stores stop growing at
``max_bytes`` (then the teacher simply runs for the batches not stored).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

__all__ = ["TeacherOutputCache", "shared_cache"]

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _key(inputs: dict[str, Tensor], want_attn: bool) -> str:
    digest = hashlib.sha256(b"attn" if want_attn else b"noattn")
    for name in _INPUTS:
        if name in inputs:
            tensor = inputs[name].detach().cpu().contiguous()
            digest.update(f"{name}{tuple(tensor.shape)}".encode())
            digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def _flatten(output: Any, want_attn: bool) -> dict[str, Tensor]:
    flat = {"logits": output.logits}
    for i, hidden in enumerate(output.hidden_states):
        flat[f"hidden_states.{i}"] = hidden
    if want_attn:
        for i, attention in enumerate(output.attentions):
            flat[f"attentions.{i}"] = attention
    return {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in flat.items()}


def _unflatten(flat: dict[str, Tensor], device: torch.device) -> dict[str, Any]:
    def ordered(prefix: str) -> tuple[Tensor, ...]:
        keys = sorted((k for k in flat if k.startswith(prefix)), key=lambda k: int(k.split(".")[1]))
        return tuple(flat[k].to(device, torch.float32) for k in keys)

    return {
        "logits": flat["logits"].to(device, torch.float32),  # (batch, classes)
        "hidden_states": ordered("hidden_states."),  # each (batch, seq, hidden)
        "attentions": ordered("attentions."),  # each (batch, heads, seq, seq)
    }


class TeacherOutputCache:
    """Teacher outputs by batch content; ``hits`` and ``misses`` count lookups."""

    def __init__(self, folder: Path | None = None, max_bytes: int = 1 << 30) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.memory: dict[str, dict[str, Tensor]] = {}
        self.memory_bytes = 0
        self.hits = 0
        self.misses = 0
        self.disk_bytes = 0
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self.disk_bytes = sum(p.stat().st_size for p in folder.glob("*.safetensors"))

    def outputs(
        self, teacher: nn.Module, inputs: dict[str, Tensor], want_attn: bool
    ) -> dict[str, Any]:
        """``{"logits", "hidden_states", "attentions"}`` of ``teacher`` on ``inputs`` (float32)."""
        device = inputs["input_ids"].device
        key = _key(inputs, want_attn)
        flat = self.memory.get(key)
        path = self.folder / f"{key}.safetensors" if self.folder is not None else None
        if flat is None and path is not None and path.is_file():
            flat = load_file(str(path))
            self._remember(key, flat)
        if flat is not None:
            self.hits += 1
            return _unflatten(flat, device)
        self.misses += 1
        with torch.inference_mode():
            output = teacher(**inputs, output_hidden_states=True, output_attentions=want_attn)
        flat = _flatten(output, want_attn)
        self._remember(key, flat)
        if path is not None and self.disk_bytes < self.max_bytes:
            handle, temporary = tempfile.mkstemp(prefix=".out-", dir=path.parent)
            os.close(handle)
            save_file(flat, temporary)
            os.replace(temporary, path)  # atomic for concurrent workers
            self.disk_bytes += path.stat().st_size
        return _unflatten(flat, device)

    def _remember(self, key: str, flat: dict[str, Tensor]) -> None:
        size = sum(t.numel() * t.element_size() for t in flat.values())
        if self.memory_bytes + size <= self.max_bytes:
            self.memory[key] = flat
            self.memory_bytes += size


_SHARED: dict[tuple[str, int], TeacherOutputCache] = {}


def shared_cache(folder: Path, max_bytes: int) -> TeacherOutputCache:
    """The cache of ``folder`` for this process: trials run by one worker share its memory."""
    key = (str(folder.resolve()), max_bytes)
    if key not in _SHARED:
        _SHARED[key] = TeacherOutputCache(folder, max_bytes)
    return _SHARED[key]

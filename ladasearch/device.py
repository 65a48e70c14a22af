"""One code path for CPU and CUDA: every module asks this for its device."""

from __future__ import annotations

import torch

from ladasearch.errors import LadaError

__all__ = ["resolve_device"]


def resolve_device(name: str | None = "auto") -> torch.device:
    """Map ``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` to a ``torch.device``.

    ``auto`` (or ``None``) picks the first CUDA device when one is visible (as Ray sets
    ``CUDA_VISIBLE_DEVICES`` for a GPU trial) and the CPU otherwise.
    """
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise LadaError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LadaError(f"device {name!r} asked for, but no CUDA GPU is visible to this process")
    return device

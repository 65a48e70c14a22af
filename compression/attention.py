"""Switch a transformers model's attention kernel for a block of code.

transformers 5.x's ``sdpa`` kernel (``integrations/sdpa_attention.py``) is faster than ``eager``
but refuses ``output_attentions=True``; distillation with an attention loss therefore needs
``eager``, everything else (evaluation, latency, a phase without the attention loss, the teacher
when its maps are not read) runs ``sdpa``. ``set_attn_implementation`` only changes the config's
dispatch key, so switching back and forth is cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

__all__ = ["attention_kernel", "set_attention"]


def set_attention(model: nn.Module, implementation: str) -> str | None:
    """Set ``model``'s attention kernel; return the previous one (None for non-HF modules)."""
    config = getattr(model, "config", None)
    setter = getattr(model, "set_attn_implementation", None)
    if config is None or not callable(setter):
        return None
    previous = getattr(config, "_attn_implementation", None)
    if previous != implementation:
        setter(implementation)
    return previous if isinstance(previous, str) else None


@contextmanager
def attention_kernel(model: nn.Module, implementation: str) -> Iterator[None]:
    """Run the block with ``implementation`` (``"sdpa"`` or ``"eager"``), then restore."""
    previous = set_attention(model, implementation)
    try:
        yield
    finally:
        if previous is not None:
            set_attention(model, previous)

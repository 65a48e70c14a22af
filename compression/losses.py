"""Distillation losses of LadaBERT section 3.4 (TinyBERT-style), as pure tensor functions.

Every function takes student and teacher tensors of the same shape and a token mask, and returns
a scalar. Padding positions (mask 0) never contribute, so dynamic padding does not change a loss.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["attention_mse", "hidden_mse", "masked_mse", "soft_cross_entropy"]


def masked_mse(student: Tensor, teacher: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the unmasked tokens.

    student, teacher: (batch, seq, hidden); mask: (batch, seq), 1 for real tokens.
    Used for the embedding-layer output and each hidden state (MSE per element, averaged over
    real tokens and the hidden dimension).
    """
    weight = mask.to(student.dtype).unsqueeze(-1)  # (batch, seq, 1)
    squared = (student - teacher).pow(2) * weight  # (batch, seq, hidden)
    denominator = weight.sum() * student.shape[-1]
    return squared.sum() / denominator.clamp_min(1.0)


hidden_mse = masked_mse


def attention_mse(student: Tensor, teacher: Tensor, mask: Tensor) -> Tensor:
    """MSE between attention probability maps over real query and key positions.

    student, teacher: (batch, heads, seq, seq); mask: (batch, seq).
    """
    token = mask.to(student.dtype)  # (batch, seq)
    pair = token[:, None, :, None] * token[:, None, None, :]  # (batch, 1, seq, seq)
    squared = (student - teacher).pow(2) * pair  # (batch, heads, seq, seq)
    denominator = pair.sum() * student.shape[1]
    return squared.sum() / denominator.clamp_min(1.0)


def soft_cross_entropy(
    student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0
) -> Tensor:
    """Prediction-layer distillation (eq. 9): soft cross-entropy at temperature ``t``.

    student_logits, teacher_logits: (batch, classes). Returned as the cross-entropy minus the
    teacher's own entropy (that is, KL(teacher || student)), which has the same gradient with
    respect to the student and is exactly 0 when the student matches the teacher.
    """
    teacher_prob = F.softmax(teacher_logits / temperature, dim=-1)  # (batch, classes)
    teacher_log = F.log_softmax(teacher_logits / temperature, dim=-1)
    student_log = F.log_softmax(student_logits / temperature, dim=-1)
    per_example = (teacher_prob * (teacher_log - student_log)).sum(dim=-1)  # (batch,)
    return per_example.mean()

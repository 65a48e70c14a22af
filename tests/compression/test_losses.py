"""Distillation losses: pure-function invariants."""

from __future__ import annotations

import copy

import pytest
import torch

from ladasearch.compression.distill import LossWeights, distillation_losses
from ladasearch.compression.losses import attention_mse, masked_mse, soft_cross_entropy


def test_soft_cross_entropy_is_zero_against_itself_and_positive_otherwise() -> None:
    logits = torch.randn(8, 3)
    assert soft_cross_entropy(logits, logits).item() == pytest.approx(0.0, abs=1e-6)
    assert soft_cross_entropy(logits + torch.randn(8, 3), logits).item() > 0


def test_soft_cross_entropy_has_the_gradient_of_the_plain_cross_entropy() -> None:
    student = torch.randn(4, 3, requires_grad=True)
    teacher = torch.randn(4, 3)
    soft_cross_entropy(student, teacher, temperature=2.0).backward()
    ours = student.grad.clone()
    student.grad = None
    plain = (
        -(torch.softmax(teacher / 2.0, -1) * torch.log_softmax(student / 2.0, -1)).sum(-1).mean()
    )
    plain.backward()
    assert torch.allclose(ours, student.grad, atol=1e-6)


def test_masked_positions_do_not_count() -> None:
    teacher = torch.randn(2, 5, 4)
    student = teacher.clone()
    student[:, 3:] += 100.0  # differs only on padding
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 0, 0]])
    assert masked_mse(student, teacher, mask).item() == 0.0
    attn_t = torch.rand(2, 2, 5, 5)
    attn_s = attn_t.clone()
    attn_s[..., 4] += 1.0  # a padded key column
    assert attention_mse(attn_s, attn_t, mask).item() == 0.0
    student[:, 0] += 1.0
    assert masked_mse(student, teacher, mask).item() == pytest.approx(1.0 / 3.0)


def test_distillation_loss_of_a_model_against_itself_is_zero(tiny_bert: torch.nn.Module) -> None:
    tiny_bert.set_attn_implementation("eager")
    twin = copy.deepcopy(tiny_bert)
    ids = torch.randint(5, 30, (3, 7))
    mask = torch.ones_like(ids)
    mask[0, 5:] = 0
    kwargs = dict(
        input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True
    )
    losses = distillation_losses(tiny_bert(**kwargs), twin(**kwargs), mask, LossWeights(), 1.0)
    assert set(losses) == {"embedding", "attention", "hidden", "prediction", "total"}
    for name, value in losses.items():
        assert value.item() == pytest.approx(0.0, abs=1e-7), name


def test_loss_weights_reject_negative_values() -> None:
    with pytest.raises(ValueError, match="attention"):
        LossWeights(attention=-1.0)

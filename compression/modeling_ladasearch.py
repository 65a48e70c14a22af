"""Modeling code of an exported LadaBERT student, for transformers' remote-code loading.

Copied verbatim into every export folder as ``modeling_ladasearch.py``; it imports only torch and
transformers. ``LadaForSequenceClassification`` builds the dense base classifier from
``config.base_config`` and swaps in the compressed modules that ``config.runtime_layout`` names.
The state dict holds what ``model.safetensors`` stores: each pruned tensor as ``<key>.kept_values``
(its kept entries, row-major) and ``<key>.bitmask`` (its mask, ``numpy.packbits`` order), so the
file keeps the pruning's savings. At load the runtime form recorded for each layer is built:

- ``factorized``: two matrix products, ``x @ B.T`` then ``@ A.T`` (rank r);
- ``dense``: the merged weight ``A @ B`` (or the masked weight) in one product;
- ``sparse``: the merged weight as a CSR tensor (``torch.sparse_csr``), for high sparsity.

The runtime tensors are non-persistent buffers (they move with ``.to()``, never saved); they are
built by ``materialize_()`` (called by ``from_pretrained``) or on the first forward. Inference only:
the runtime tensors carry no gradient back to the stored values.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel

from .configuration_ladasearch import LadaConfig

__all__ = [
    "RUNTIME_FORMS",
    "LadaEmbedding",
    "LadaForSequenceClassification",
    "LadaLinear",
    "PackedTensor",
]

RUNTIME_FORMS = ("factorized", "dense", "sparse")
_BIT_SHIFTS = (7, 6, 5, 4, 3, 2, 1, 0)  # numpy.packbits: most significant bit first


class PackedTensor(nn.Module):
    """A pruned tensor of ``shape`` stored as its ``kept`` values and a packed bitmask."""

    def __init__(self, shape: list[int] | tuple[int, ...], kept: int) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        numel = 1
        for size in self.shape:
            numel *= size
        self.numel = numel
        self.kept_values = nn.Parameter(torch.zeros(int(kept)), requires_grad=False)  # (kept,)
        self.bitmask: Tensor
        self.register_buffer("bitmask", torch.zeros((numel + 7) // 8, dtype=torch.uint8))

    def mask(self) -> Tensor:
        """The boolean mask of ``shape``."""
        shifts = torch.tensor(_BIT_SHIFTS, dtype=torch.uint8, device=self.bitmask.device)
        bits = (self.bitmask[:, None] >> shifts) & 1  # (bytes, 8)
        return bits.reshape(-1)[: self.numel].bool().view(self.shape)

    def unpack(self) -> Tensor:
        """The dense tensor of ``shape``: kept values in place, zeros elsewhere."""
        mask = self.mask()
        if int(mask.sum()) != self.kept_values.numel():
            raise ValueError(
                f"{self.kept_values.numel()} stored values for {int(mask.sum())} mask bits"
            )
        dense = torch.zeros(self.shape, dtype=self.kept_values.dtype, device=mask.device)
        dense[mask] = self.kept_values.detach()
        return dense


class LadaLinear(nn.Module):
    """A compressed ``nn.Linear`` (out=m, in=n) that runs in one of ``RUNTIME_FORMS``."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        rows, cols = (int(s) for s in spec["shape"])
        self.in_features, self.out_features = cols, rows
        self.kind = spec["kind"]
        kept = spec["kept"]
        if self.kind == "factorized":
            rank = int(spec["rank"])
            self.a = PackedTensor((rows, rank), kept["a"])
            self.b = PackedTensor((rank, cols), kept["b"])
        elif self.kind == "masked":
            self.weight = PackedTensor((rows, cols), kept["weight"])
        else:
            raise ValueError(f"unknown compressed linear kind {self.kind!r}")
        self.bias = nn.Parameter(torch.zeros(rows), requires_grad=False) if spec["bias"] else None
        self.form = spec.get("runtime") or ("factorized" if self.kind == "factorized" else "dense")
        if self.form not in RUNTIME_FORMS or (
            self.form == "factorized" and self.kind != "factorized"
        ):
            raise ValueError(f"runtime form {self.form!r} does not fit a {self.kind} layer")
        self._built: str | None = None

    def dense_weight(self) -> Tensor:
        """The effective dense weight (m, n)."""
        if self.kind == "factorized":
            return self.a.unpack() @ self.b.unpack()  # (m, r) @ (r, n) -> (m, n)
        return self.weight.unpack()

    @torch.no_grad()
    def materialize_(self, form: str | None = None) -> None:
        """Build the runtime tensors of ``form`` (default: the recorded one) from the stored ones."""
        form = form or self.form
        if form == "factorized":
            if self.kind != "factorized":
                raise ValueError("only a factorized layer can run factorized")
            first, second = self.b.unpack(), self.a.unpack()  # (r, n), (m, r)
        elif form == "dense":
            first, second = self.dense_weight(), torch.empty(0)  # (m, n)
        elif form == "sparse":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
                first, second = self.dense_weight().to_sparse_csr(), torch.empty(0)
        else:
            raise ValueError(f"unknown runtime form {form!r}")
        self.register_buffer("runtime_first", first, persistent=False)
        self.register_buffer("runtime_second", second.to(first.device), persistent=False)
        self.form = self._built = form

    runtime_first: Tensor
    runtime_second: Tensor

    def forward(self, x: Tensor) -> Tensor:
        if self._built != self.form:
            self.materialize_()
        if self.form == "factorized":
            h = F.linear(x, self.runtime_first)  # (..., n) -> (..., r)
            return F.linear(h, self.runtime_second, self.bias)  # (..., r) -> (..., m)
        if self.form == "dense":
            return F.linear(x, self.runtime_first, self.bias)  # (..., n) -> (..., m)
        flat = x.reshape(-1, self.in_features)  # (tokens, n)
        out = F.linear(flat, self.runtime_first, self.bias)  # (tokens, m), CSR weight
        return out.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, {self.kind}, runs {self.form}"


class LadaEmbedding(nn.Module):
    """The word embedding (V, d) as a (V, k) lookup followed by ``@ second`` (k, d)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        vocab, dim = (int(s) for s in spec["shape"])
        rank = int(spec["rank"])
        self.num_embeddings, self.embedding_dim = vocab, dim
        self.padding_idx = spec.get("padding_idx")
        self.first = nn.Embedding(vocab, rank, padding_idx=self.padding_idx)
        self.second = nn.Parameter(torch.zeros(rank, dim), requires_grad=False)
        self.form = "factorized"

    @property
    def weight(self) -> Tensor:
        """The dense (V, d) product, for code that reads ``embeddings.weight``."""
        return self.first.weight @ self.second

    def forward(self, input_ids: Tensor) -> Tensor:
        return self.first(input_ids) @ self.second  # (...,) -> (..., k) -> (..., d)


def _replace(model: nn.Module, fqn: str, module: nn.Module) -> None:
    parent_name, _, child = fqn.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    if not isinstance(getattr(parent, child, None), nn.Module):
        raise ValueError(f"the layout names {fqn!r}, which the base model does not have")
    setattr(parent, child, module)


class LadaForSequenceClassification(PreTrainedModel):
    """The base sequence classifier (``self.inner``) with its compressed modules swapped in."""

    config_class = LadaConfig
    base_model_prefix = "inner"
    main_input_name = "input_ids"
    _supports_sdpa = True
    _supports_attention_backend = True

    def __init__(self, config: LadaConfig) -> None:
        super().__init__(config)
        base = dict(config.base_config or {})
        model_type = base.pop("model_type")
        for key in ("architectures", "auto_map", "transformers_version", "_name_or_path"):
            base.pop(key, None)
        base_config = AutoConfig.for_model(model_type, **base)
        self.inner = AutoModelForSequenceClassification.from_config(base_config)
        layout = config.runtime_layout or {}
        for fqn, spec in (layout.get("modules") or {}).items():
            kind = spec["kind"]
            module = LadaEmbedding(spec) if kind == "factorized_embedding" else LadaLinear(spec)
            _replace(self.inner, fqn, module)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Every weight comes from the checkpoint; nothing is initialised at random here."""

    def get_input_embeddings(self) -> nn.Module:
        return self.inner.get_input_embeddings()

    @torch.no_grad()
    def materialize_(self) -> LadaForSequenceClassification:
        """Build every compressed layer's runtime form (after the stored tensors are loaded)."""
        for module in self.modules():
            if isinstance(module, LadaLinear):
                module.materialize_()
        return self

    @classmethod
    def from_pretrained(cls, *args: Any, **kwargs: Any) -> Any:
        """``PreTrainedModel.from_pretrained``, then the runtime forms are built."""
        model = super().from_pretrained(*args, **kwargs)
        return model.materialize_()

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
        **kwargs: Any,
    ) -> Any:
        """The base classifier's forward (logits of shape (batch, num_labels))."""
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        return self.inner(
            input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs
        )

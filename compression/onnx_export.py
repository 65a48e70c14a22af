"""ONNX export of a runtime model: factorized layers as two MatMuls, pruning kept on disk.

``export_onnx(model, path)`` traces the runtime model (``modeling_ladasearch``) with dynamic batch
and sequence axes. A layer that runs ``sparse`` in torch is traced in its ``dense`` form (ONNX
has no standard sparse product); the pruned weights are then stored as ONNX
``sparse_initializer`` entries (indices + values), so ``model.onnx`` keeps the pruning's savings
on disk and onnxruntime densifies them when the session loads. ``quantize_int8`` adds
onnxruntime's dynamic int8 quantization as a separate file. Needs the ``onnx`` extra
(``pip install 'ladasearch[onnx]'``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ladasearch.compression.modeling_ladasearch import LadaLinear
from ladasearch.errors import LadaError

__all__ = [
    "INPUT_NAMES",
    "ONNX_FILE",
    "QUANTIZED_FILE",
    "export_onnx",
    "onnx_session",
    "quantize_int8",
]

ONNX_FILE = "model.onnx"
QUANTIZED_FILE = "model.int8.onnx"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
SPARSE_MIN_ZEROS = 0.5  # store an initializer sparsely when at least half of it is zero
SPARSE_MIN_SIZE = 1024


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise LadaError(
            f"ONNX export needs the onnx extra: pip install 'ladasearch[onnx]' ({exc.name} is missing)"
        ) from None


class _Logits(nn.Module):
    """Positional inputs in, logits (batch, labels) out: what the ONNX graph computes."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor) -> Tensor:
        out = self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        return out.logits  # (batch, labels)


def _sparsify(path: Path) -> int:
    """Move mostly-zero initializers of the ONNX file to ``sparse_initializer``; how many."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    graph, kept, moved = proto.graph, [], 0
    nodes = []
    for (
        node
    ) in graph.node:  # the exporter inlines buffers as Constant nodes: make them initializers
        value = next((a for a in node.attribute if a.name == "value"), None)
        if node.op_type == "Constant" and value is not None and len(node.attribute) == 1:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(value.t)
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    for init in graph.initializer:
        values = numpy_helper.to_array(init)
        if values.size >= SPARSE_MIN_SIZE and float(np.mean(values == 0)) >= SPARSE_MIN_ZEROS:
            flat = values.reshape(-1)
            index = np.flatnonzero(flat).astype(np.int64)  # (nnz,) linear indices
            sparse = onnx.helper.make_sparse_tensor(
                numpy_helper.from_array(flat[index], init.name),
                numpy_helper.from_array(index, f"{init.name}.indices"),
                list(values.shape),
            )
            graph.sparse_initializer.append(sparse)
            moved += 1
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.save(proto, str(path))
    return moved


def export_onnx(
    model: nn.Module, path: str | os.PathLike[str], *, quantize: bool = False, opset: int = 17
) -> list[Path]:
    """Write ``model`` (a runtime model, or any sequence classifier) to ``path`` as ONNX.

    With ``quantize`` also writes ``model.int8.onnx`` beside it (dynamic int8 weights). Returns
    the files written. The model's layers get their recorded runtime forms back afterwards.
    """
    _require_onnx()
    target = Path(path)
    model = model.cpu().eval()
    sparse = [m for m in model.modules() if isinstance(m, LadaLinear) and m.form == "sparse"]
    for layer in sparse:
        layer.materialize_("dense")
    example = {
        "input_ids": torch.ones(2, 8, dtype=torch.long),
        "attention_mask": torch.ones(2, 8, dtype=torch.long),
        "token_type_ids": torch.zeros(2, 8, dtype=torch.long),
    }
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    written = [target]
    try:
        with torch.no_grad():
            torch.onnx.export(
                _Logits(model),
                tuple(example[name] for name in INPUT_NAMES),
                str(target),
                input_names=list(INPUT_NAMES),
                output_names=["logits"],
                dynamic_axes={**axes, "logits": {0: "batch"}},
                opset_version=opset,
                dynamo=False,
            )
    finally:
        for layer in sparse:
            layer.materialize_("sparse")
    if quantize:
        written.append(quantize_int8(target, target.with_name(QUANTIZED_FILE)))
    _sparsify(target)
    return written


def quantize_int8(source: Path, target: Path) -> Path:
    """onnxruntime's dynamic int8 quantization of ``source`` (weights int8, activations float)."""
    _require_onnx()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / target.name
        quantize_dynamic(str(source), str(staged), weight_type=QuantType.QInt8)
        staged.replace(target)
    return target


def onnx_session(path: str | os.PathLike[str], threads: int | None = None) -> Any:
    """An onnxruntime CPU session of ``path`` (``threads`` intra-op threads when given)."""
    _require_onnx()
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

"""Save and load a compressed classifier: safetensors + JSON, never pickle.

A folder holds ``config.json``, the tokenizer files, ``ladasearch.json`` (format version, the
compression layout, model class, label names, user metadata) and ``model.safetensors``. Each
pruned tensor ``<key>`` is stored as ``<key>.kept_values`` (its kept entries, 1-D, row-major) and
``<key>.bitmask`` (its mask packed with ``numpy.packbits``), so the file size reflects pruning;
its mask buffer is not stored separately. Every other tensor is stored as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ladasearch.compression.kinds import compressed_layers
from ladasearch.compression.plan import apply_layout_, compression_layout
from ladasearch.errors import ModelError

__all__ = [
    "EXPORT_FORMAT_VERSION",
    "FORMAT_VERSION",
    "METADATA_FILE",
    "WEIGHTS_FILE",
    "load_compressed",
    "packed_state",
    "save_compressed",
]

FORMAT_VERSION = 1
EXPORT_FORMAT_VERSION = 2  # an export folder: transformers remote code + runtime forms (export.py)
METADATA_FILE = "ladasearch.json"
WEIGHTS_FILE = "model.safetensors"
_VALUES = ".kept_values"
_BITMASK = ".bitmask"


def _masked_keys(model: nn.Module) -> dict[str, str]:
    """State-dict key of each pruned parameter -> key of its mask buffer."""
    keys = {}
    for fqn, module, kind in compressed_layers(model):
        if kind.prunable:
            prefix = f"{fqn}." if fqn else ""
            for param_name, mask_name in module.MASKED:
                keys[prefix + param_name] = prefix + mask_name
    return keys


def _pack(values: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    kept = values.detach()[mask].cpu().contiguous()  # (mask.sum(),)
    bits = np.packbits(mask.detach().cpu().numpy().reshape(-1))  # (ceil(numel / 8),) uint8
    return kept, torch.from_numpy(bits)


def _unpack(kept: Tensor, bits: Tensor, shape: torch.Size, key: str) -> tuple[Tensor, Tensor]:
    numel = int(torch.Size(shape).numel())
    flat = np.unpackbits(bits.numpy(), count=numel).astype(bool)
    mask = torch.from_numpy(flat).view(shape)
    if int(mask.sum()) != kept.numel():
        raise ModelError(f"{key}: {kept.numel()} stored values for {int(mask.sum())} mask bits")
    values = torch.zeros(shape, dtype=kept.dtype)
    values[mask] = kept
    return values, mask


def packed_state(model: nn.Module, prefix: str = "") -> dict[str, Tensor]:
    """The tensors ``model.safetensors`` stores: pruned ones packed, mask buffers dropped.

    Each key gets ``prefix`` (an export stores them under the wrapper's ``inner.``).
    """
    state = model.state_dict()
    masked = _masked_keys(model)
    tensors: dict[str, Tensor] = {}
    for key, tensor in state.items():
        if key in masked.values():
            continue
        if key in masked:
            kept, bits = _pack(tensor, state[masked[key]])
            tensors[prefix + key + _VALUES], tensors[prefix + key + _BITMASK] = kept, bits
        else:
            tensors[prefix + key] = tensor.detach().cpu().contiguous().clone()
    return tensors


def save_compressed(
    model: nn.Module, tokenizer: Any, out_dir: str | Path, metadata: dict[str, Any]
) -> Path:
    """Write ``model`` (compressed or not), ``tokenizer`` and ``metadata`` to ``out_dir``.

    ``tokenizer`` may be None (then ``load_compressed`` returns None for it). Returns the folder.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    config: Any = model.config
    config.save_pretrained(folder)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    save_file(packed_state(model), str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    dtype = next(model.parameters()).dtype
    labels = [config.id2label[i] for i in range(config.num_labels)]
    document = {
        "format": "ladasearch-compressed",
        "format_version": FORMAT_VERSION,
        "model_class": model.__class__.__name__,
        "dtype": str(dtype).removeprefix("torch."),
        "labels": labels,
        "tokenizer": tokenizer is not None,
        "layout": compression_layout(model),
        "metadata": metadata,
    }
    (folder / METADATA_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return folder


def _read_document(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise ModelError(f"compressed model folder {folder} does not exist")
    for name in ("config.json", METADATA_FILE, WEIGHTS_FILE):
        if not (folder / name).is_file():
            raise ModelError(f"{folder} is not a compressed ladasearch model: {name} is missing")
    try:
        document = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{folder / METADATA_FILE} is unreadable: {exc}") from exc
    versions = (FORMAT_VERSION, EXPORT_FORMAT_VERSION)
    if not isinstance(document, dict) or document.get("format_version") not in versions:
        raise ModelError(f"{folder / METADATA_FILE} is not a format {FORMAT_VERSION} or 2 file")
    return document


def load_compressed(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, Any, dict[str, Any]]:
    """Rebuild a model saved by ``save_compressed``: ``(model in eval mode, tokenizer, metadata)``.

    ``metadata`` is the user metadata given to ``save_compressed``. Raises ``ModelError`` with
    the folder's name when it is missing or corrupt.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from ladasearch.device import resolve_device

    folder = Path(path)
    document = _read_document(folder)
    if document["format_version"] == EXPORT_FORMAT_VERSION:
        from ladasearch.compression.runtime import load_export

        model, tokenizer = load_export(folder, document)
        model.to(resolve_device(str(device))).eval()
        return model, tokenizer, dict(document.get("metadata") or {})
    try:
        config = AutoConfig.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_config(config)
        model.to(getattr(torch, document.get("dtype", "float32")))
        apply_layout_(model, document["layout"])
        tensors = load_file(str(folder / WEIGHTS_FILE))
        model.load_state_dict(_state_dict(model, tensors), strict=True)
        tokenizer = AutoTokenizer.from_pretrained(folder) if document.get("tokenizer") else None
    except ModelError as exc:
        raise ModelError(f"{folder}: {exc}") from exc
    except Exception as exc:  # transformers / safetensors raise many types for a broken folder
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"cannot load the compressed model in {folder}: {message}") from exc
    model.to(resolve_device(str(device))).eval()
    return model, tokenizer, dict(document.get("metadata") or {})


def _state_dict(model: nn.Module, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """The model's full state dict from stored tensors (unpack bitmasks, scatter values)."""
    masked = _masked_keys(model)
    reference = model.state_dict()
    state: dict[str, Tensor] = {}
    for key, target in reference.items():
        if key in masked.values():
            continue
        if key in masked:
            try:
                kept, bits = tensors[key + _VALUES], tensors[key + _BITMASK]
            except KeyError as exc:
                raise ModelError(f"{WEIGHTS_FILE} lacks the pruned tensor {key}") from exc
            state[key], state[masked[key]] = _unpack(kept, bits, target.shape, key)
        elif key in tensors:
            state[key] = tensors[key]
        else:
            raise ModelError(f"{WEIGHTS_FILE} lacks the tensor {key}")
    return state

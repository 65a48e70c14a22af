"""The model files of an export: the runtime folder (or ``--dense``), ONNX, and their card text.

:func:`write_model` writes the model part of an export folder and returns what it wrote as a
JSON-able ``runtime`` record (stored in ``ladasearch-config.yaml``); :func:`runtime_section` is the
model card's section on loading it with stock transformers and onnxruntime.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from torch import nn

    from ladasearch.export.write import ExportOptions

__all__ = ["runtime_section", "write_model"]


def write_model(
    model: nn.Module, tokenizer: Any, metadata: dict[str, Any], folder: Path, options: ExportOptions
) -> dict[str, Any]:
    """Write ``model`` into ``folder`` as ``options`` asks; returns the ``runtime`` record."""
    from ladasearch.compression.runtime import densify_, write_export
    from ladasearch.compression.serialize import save_compressed

    runtime: dict[str, Any] = {"threads": torch.get_num_threads()}
    exported: nn.Module
    if options.dense:
        exported = densify_(model)
        save_compressed(exported, tokenizer, folder, metadata)
        runtime["format"] = "dense"
    else:
        exported = write_export(model, tokenizer, folder, metadata, measure=options.measure)
        layout: Any = exported.config.runtime_layout
        forms = Counter(spec["runtime"] for spec in layout["modules"].values() if "kept" in spec)
        runtime.update(format="remote-code", measured=options.measure, forms=dict(forms))
    runtime["device"] = str(next(exported.parameters()).device)
    if options.onnx:
        from ladasearch.compression.onnx_export import ONNX_FILE, export_onnx

        written = export_onnx(exported, folder / ONNX_FILE, quantize=options.quantize == "int8")
        runtime["onnx"] = [path.name for path in written]
    return runtime


def runtime_section(runtime: dict[str, Any], folder_name: str = "DIR") -> str:
    """The model card's "Load it elsewhere" section for ``runtime``."""
    if runtime.get("format") == "dense":
        load = f"""This export is `--dense`: a stock architecture with the factors multiplied back
(no size saving), so stock transformers loads it without custom code:

```python
from transformers import pipeline

classifier = pipeline("text-classification", model="{folder_name}")
```
"""
    else:
        forms = ", ".join(f"{n} {form}" for form, n in sorted(runtime.get("forms", {}).items()))
        how = (
            f"measured on {runtime.get('device')} with {runtime.get('threads')} threads"
            if runtime.get("measured")
            else "not measured (factorized layers factorized, pruned ones dense)"
        )
        load = f"""The folder ships its modeling code (`modeling_ladasearch.py`, which imports only torch
and transformers) and `config.json` names it in `auto_map`, so stock transformers loads it with
`trust_remote_code=True` (and refuses it without, rather than loading random weights):

```python
from transformers import pipeline

classifier = pipeline("text-classification", model="{folder_name}", trust_remote_code=True)
```

Each compressed layer runs in the form that was fastest where it was exported ({how}):
{forms or "none"}; the choice is recorded in `ladasearch.json`, and `model.safetensors` stores
the pruned tensors packed (kept values + bitmask), so its size reflects the pruning.
"""
    onnx = ""
    if runtime.get("onnx"):
        files = ", ".join(f"`{name}`" for name in runtime["onnx"])
        onnx = f"""
ONNX: {files} (factorized layers as two MatMuls, pruned weights stored as sparse initializers;
`model.int8.onnx`, when present, is onnxruntime's dynamic int8 quantization, measured separately
by `ladasearch bench {folder_name}`).
"""
    return f"\n## Load it elsewhere\n\n{load}{onnx}"

"""An export's runtime model: the layout of runtime forms, measured per layer, and its folder.

A trained student (``FactorizedLinear`` / ``MaskedLinear`` / ``FactorizedEmbedding`` layers) is
written as a transformers remote-code folder (``modeling_ladasearch.py``): ``config.json`` with an
``auto_map``, the two code files, ``model.safetensors`` (pruned tensors packed, so the size keeps
the pruning), the tokenizer and ``ladasearch.json`` (format 2). Each compressed linear runs in the
form (``factorized``, ``dense`` or ``sparse`` CSR) that :func:`time_forms` measured fastest on the
export's device; the choice and its timings are recorded in the layout, so reloading reproduces
it.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from ladasearch.compression.kinds import compressed_layers, kind_of
from ladasearch.compression.layers import FactorizedLinear, MaskedLinear
from ladasearch.compression.modeling_ladasearch import (
    RUNTIME_FORMS,
    LadaForSequenceClassification,
    LadaLinear,
)
from ladasearch.compression.plan import compression_layout
from ladasearch.compression.serialize import (
    EXPORT_FORMAT_VERSION,
    METADATA_FILE,
    WEIGHTS_FILE,
    packed_state,
)
from ladasearch.errors import ModelError

__all__ = [
    "AUTO_MAP",
    "CODE_FILES",
    "RUNTIME_LAYOUT_VERSION",
    "choose_forms",
    "export_model",
    "load_export",
    "runtime_layout",
    "time_forms",
    "write_export",
]

RUNTIME_LAYOUT_VERSION = 2
PREFIX = "inner."
AUTO_MAP = {
    "AutoConfig": "configuration_ladasearch.LadaConfig",
    "AutoModelForSequenceClassification": "modeling_ladasearch.LadaForSequenceClassification",
}
CODE_FILES = ("configuration_ladasearch.py", "modeling_ladasearch.py")
Timings = dict[str, dict[str, list[float]]]  # fqn -> form -> [ms at batch 1, ms at batch 32]


def _default_form(module: nn.Module) -> str:
    kind = kind_of(module)
    return "factorized" if kind is not None and kind.factorized else "dense"


def runtime_layout(
    model: nn.Module, forms: Mapping[str, str] | None = None, timings: Timings | None = None
) -> dict[str, Any]:
    """``{"version": 2, "modules": {fqn: spec}}`` of ``model``'s compressed layers.

    ``forms`` maps a linear's fqn to its runtime form (default: factorized layers run factorized,
    masked ones dense); ``timings`` (from :func:`time_forms`) is recorded beside each choice.
    """
    modules = compression_layout(model)["modules"]  # kind, shape, rank, bias / padding_idx
    for fqn, spec in modules.items():
        if spec["kind"] == "factorized_embedding":
            spec["runtime"] = "factorized"
            continue
        module: Any = model.get_submodule(fqn)
        kind = kind_of(module)
        assert kind is not None and kind.linear
        form = (forms or {}).get(fqn, _default_form(module))
        if form not in RUNTIME_FORMS or (form == "factorized" and not kind.factorized):
            raise ModelError(f"{fqn}: runtime form {form!r} does not fit the layer")
        spec["kept"] = {name: int(mask.sum()) for (name, _), (_, mask) in _masks(module)}
        spec["runtime"] = form
        if timings and fqn in timings:
            spec["timings_ms"] = timings[fqn]
    return {"version": RUNTIME_LAYOUT_VERSION, "modules": modules}


def _masks(
    module: FactorizedLinear | MaskedLinear,
) -> list[tuple[tuple[str, str], tuple[nn.Parameter, torch.Tensor]]]:
    return list(zip(module.MASKED, module.masked_parameters(), strict=True))


def export_model(
    model: nn.Module, forms: Mapping[str, str] | None = None, timings: Timings | None = None
) -> LadaForSequenceClassification:
    """The runtime model (eval mode, same device) equivalent to the trained ``model``."""
    from ladasearch.compression.configuration_ladasearch import LadaConfig

    config: Any = model.config
    base = config.to_dict()
    lada_config: Any = LadaConfig(
        base_config=base,
        runtime_layout=runtime_layout(model, forms, timings),
        id2label=dict(config.id2label),
        label2id=dict(config.label2id),
    )
    lada_config.auto_map = dict(AUTO_MAP)
    lada_config.architectures = ["LadaForSequenceClassification"]
    device = next(model.parameters()).device
    exported = LadaForSequenceClassification(lada_config)
    exported.load_state_dict(packed_state(model, PREFIX), strict=True)
    exported.to(device)  # type: ignore[arg-type]  # transformers' typed wrapper of nn.Module.to
    return exported.materialize_().eval()


def _median_ms(run: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


@torch.inference_mode()
def time_forms(
    exported: LadaForSequenceClassification,
    *,
    seq_len: int = 64,
    batch_sizes: tuple[int, int] = (1, 32),
    repeats: int = 7,
) -> Timings:
    """Median ms of each compressed linear in each form it can take, batch 1 and 32.

    Each layer runs alone on a random (batch, seq_len, in) input on its own device, the forms
    interleaved round after round so that a busy machine slows them alike. The layer is left in
    its recorded form.
    """
    timings: Timings = {}
    for fqn, module in exported.inner.named_modules():
        if not isinstance(module, LadaLinear):
            continue
        original = module.form
        device = module.bias.device if module.bias is not None else torch.device("cpu")
        forms = [f for f in RUNTIME_FORMS if f != "factorized" or module.kind == "factorized"]
        result: dict[str, list[float]] = {form: [] for form in forms}
        for batch in batch_sizes:
            x = torch.randn(batch, seq_len, module.in_features, device=device)
            samples: dict[str, list[float]] = {form: [] for form in forms}
            for round_ in range(repeats + 1):  # the first round warms up
                for form in forms:
                    module.materialize_(form)
                    ms = _median_ms(lambda m=module, x=x: m(x), 1)
                    if round_:
                        samples[form].append(ms)
            for form in forms:
                result[form].append(round(statistics.median(samples[form]), 4))
        module.materialize_(original)
        timings[fqn] = result
    return timings


def choose_forms(timings: Timings) -> dict[str, str]:
    """Per layer, the form with the lowest sum of its batch-1 and batch-32 times, each relative
    to the fastest form at that batch size (so both sizes weigh alike)."""
    chosen = {}
    for fqn, by_form in timings.items():
        best = [min(ms[i] for ms in by_form.values()) or 1e-9 for i in range(2)]
        chosen[fqn] = min(
            by_form, key=lambda form: sum(by_form[form][i] / best[i] for i in range(2))
        )
    return chosen


def _labels(model: nn.Module) -> dict[int, str]:
    config: Any = model.config
    return {int(i): str(label) for i, label in config.id2label.items()}


def write_export(
    model: nn.Module,
    tokenizer: Any,
    folder: Path,
    metadata: dict[str, Any],
    *,
    measure: bool = True,
) -> LadaForSequenceClassification:
    """Write the runtime folder of ``model`` into ``folder``; returns the runtime model.

    With ``measure`` each layer's form is the fastest one :func:`time_forms` measured on the
    model's device (with ``torch.get_num_threads()`` threads, recorded); without it, factorized
    layers run factorized and masked ones dense.
    """
    folder.mkdir(parents=True, exist_ok=True)
    exported = export_model(model)
    forms: dict[str, str] | None = None
    timings: Timings | None = None
    if measure:
        timings = time_forms(exported)
        forms = choose_forms(timings)
        exported = export_model(model, forms, timings)
    exported.config.save_pretrained(folder)
    here = Path(__file__).parent
    for name in CODE_FILES:
        shutil.copyfile(here / name, folder / name)
    if tokenizer is not None:
        positions = exported.config.base_config.get("max_position_embeddings")
        if positions and tokenizer.model_max_length > positions:  # so pipelines truncate
            tokenizer.model_max_length = int(positions)
        tokenizer.save_pretrained(folder)
    save_file(packed_state(model, PREFIX), str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    device = next(model.parameters()).device
    document = {
        "format": "ladasearch-export",
        "format_version": EXPORT_FORMAT_VERSION,
        "model_class": "LadaForSequenceClassification",
        "labels": [str(label) for _, label in sorted(_labels(exported).items())],
        "tokenizer": tokenizer is not None,
        "layout": exported.config.runtime_layout,
        "measured_on": {"device": str(device), "threads": torch.get_num_threads()}
        if measure
        else None,
        "metadata": metadata,
    }
    (folder / METADATA_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return exported


def _tokenizer(folder: Path) -> Any:
    """The folder's tokenizer by the class its ``tokenizer_config.json`` names (``AutoTokenizer``
    would ask about the folder's remote code)."""
    from transformers import AutoTokenizer
    from transformers.models.auto.tokenization_auto import tokenizer_class_from_name

    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    name = config.get("tokenizer_class")
    cls = tokenizer_class_from_name(name) if isinstance(name, str) else None
    if cls is None:
        return AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    return cls.from_pretrained(folder)


def load_export(folder: Path, document: Mapping[str, Any]) -> tuple[nn.Module, Any]:
    """Load an export folder with this package's copy of the modeling code (none of the
    folder's code runs); the runtime forms are those of its layout."""
    try:
        model = LadaForSequenceClassification.from_pretrained(folder)
        tokenizer = _tokenizer(folder) if document.get("tokenizer") else None
    except Exception as exc:  # transformers / safetensors raise many types for a broken folder
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"cannot load the exported model in {folder}: {message}") from exc
    if model.config.runtime_layout != document.get("layout"):
        raise ModelError(f"{folder}: config.json and {METADATA_FILE} record different layouts")
    return model, tokenizer


def densify_(model: nn.Module) -> nn.Module:
    """Multiply every compressed layer back into a plain ``nn.Linear`` / ``nn.Embedding``, in
    place: a stock architecture that loads anywhere, without the size saving."""
    from ladasearch.compression.targets import replace_module

    for fqn, module, _ in list(compressed_layers(model)):
        replace_module(model, fqn, module.to_dense())  # nn.Linear / nn.Embedding
    return model

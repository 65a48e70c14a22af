"""Export one trial: its configuration (YAML + JSON), its compressed model and a model card.

The folder written by :func:`export_trial` holds the compressed model as ``save_compressed``
writes it (so ``ladasearch.load(DIR)`` and ``ladasearch predict DIR`` run it), plus

- ``ladasearch-config.yaml`` / ``ladasearch-config.json`` (not ``config.json``: that name is the
  Hugging Face model config ``save_compressed`` writes; see :data:`CONFIG_STEM`): the three ratios,
  rank and sparsity of every compressed matrix, the schedule, the metrics, study and trial ids,
  package versions;
- ``README.md``: the model card, metrics against the teacher and how to load the model.

The model is read from the trial's ``model_dir`` (relative to the study's run folder) after its
``model_sha256`` is checked and written in its runtime form (:mod:`ladasearch.export.runtime`: transformers
remote code, or ``--dense``; optionally ONNX). When the trial's model is gone, export says so in
one line; it retrains from the configuration with ``compress_job`` only when asked (``--retrain``).
Everything is written to a staging folder and swapped into place
(:mod:`ladasearch.export.folder`), so a failure leaves no half-written export behind and
``--force`` replaces only an earlier export.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ladasearch.errors import LadaError
from ladasearch.export.card import model_card
from ladasearch.export.config import CONFIG_STEM, build_config, matrix_layout
from ladasearch.export.source import Retrainer, kept_model_dir, missing_model_message, retrain_trial
from ladasearch.search.studydb.records import StudyRecord, TrialRecord

__all__ = ["ExportOptions", "ExportResult", "export_trial"]


# ---------------------------------------------------------------------------------------------
# writing the folder


@dataclass(frozen=True)
class ExportOptions:
    """How the model is written: ``dense`` (a stock architecture, factors multiplied back, no
    size saving) or the runtime folder with forms ``measure``d per layer; ``onnx`` adds
    ``model.onnx``, ``quantize="int8"`` also ``model.int8.onnx``."""

    dense: bool = False
    onnx: bool = False
    quantize: str | None = None
    measure: bool = True

    def __post_init__(self) -> None:
        if self.quantize not in (None, "int8"):
            raise LadaError(f"--quantize must be int8, got {self.quantize!r}")
        if self.quantize and not self.onnx:
            raise LadaError("--quantize int8 quantizes the ONNX file: pass --onnx too")


@dataclass
class ExportResult:
    """What :func:`export_trial` wrote."""

    out_dir: Path
    trial: TrialRecord
    config: dict[str, Any]
    retrained: bool
    files: list[Path] = field(default_factory=list)


def export_trial(
    study: StudyRecord,
    trial: TrialRecord,
    out_dir: Path,
    *,
    force: bool = False,
    retrain: Retrainer | None = None,
    allow_retrain: bool = False,
    device: str = "cpu",
    options: ExportOptions | None = None,
) -> ExportResult:
    """Write ``trial``'s model, configuration and card to ``out_dir`` (see the module and
    :mod:`ladasearch.export.folder` for the folder's safety rules).

    When the trial's saved model is not there this raises a one-line ``LadaError`` unless
    ``allow_retrain``; then ``retrain(study, trial, folder)`` (default :func:`retrain_trial`)
    saves a freshly trained model into ``folder`` and returns its metrics.
    """
    from ladasearch.compression.serialize import load_compressed
    from ladasearch.export.folder import check_out_dir, staged_folder, write_manifest
    from ladasearch.export.runtime import runtime_section, write_model

    options = options or ExportOptions()
    check_out_dir(out_dir, force)
    kept = kept_model_dir(study, trial)
    if kept is None and not allow_retrain:
        raise LadaError(missing_model_message(study, trial))
    with staged_folder(out_dir) as staging:
        metrics: Mapping[str, Any] = {}
        source = kept
        if source is None:
            source = staging / ".retrained"
            metrics = (retrain or retrain_trial)(study, trial, source)
        model, tokenizer, meta = load_compressed(source, device)
        layout = matrix_layout(model)
        runtime = write_model(model, tokenizer, meta, staging, options)
        del model
        if source.parent == staging:
            shutil.rmtree(source)
        config = build_config(study, trial, layout, metrics=metrics, retrained=kept is None)
        config["runtime"] = runtime
        config_text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
        (staging / f"{CONFIG_STEM}.yaml").write_text(config_text, encoding="utf-8")
        (staging / f"{CONFIG_STEM}.json").write_text(
            json.dumps(config, indent=2) + "\n", encoding="utf-8"
        )
        card = model_card(config, str(out_dir)) + runtime_section(runtime, str(out_dir))
        (staging / "README.md").write_text(card, encoding="utf-8")
        write_manifest(staging, {"study": study.name, "trial_number": trial.number})
    files = sorted(p for p in out_dir.rglob("*") if p.is_file())
    return ExportResult(
        out_dir=out_dir, trial=trial, config=config, retrained=kept is None, files=files
    )

"""``ladasearch export`` (a trial's model, configuration and card) and ``ladasearch predict``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ladasearch.errors import LadaError

__all__ = ["register"]


_SUFFIXES = {"k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9}


def _positive_count(text: str) -> float:
    """``4500000``, ``4.5M``, ``300k`` -> a positive number (argparse type)."""
    raw = text.strip().replace("_", "").replace(",", "")
    scale = _SUFFIXES.get(raw[-1:].lower(), 1.0)
    try:
        value = float(raw[:-1] if scale != 1.0 else raw) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a parameter count: {text!r} (e.g. 4500000 or 4.5M)"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def register(subparsers: Any) -> None:
    """Add the ``export`` and ``predict`` sub-commands."""
    export = subparsers.add_parser(
        "export",
        help="export a trial: compressed model, configuration (YAML + JSON) and model card",
        description="Pick a trial (--trial N, or --best: the most accurate under --max-params, or "
        "the smallest over --min-accuracy) and write its model, configuration and README.md card.",
    )
    export.add_argument("study", metavar="STUDY", help="study name")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--trial", type=int, default=None, metavar="N", help="the trial number")
    which.add_argument(
        "--best", action="store_true", help="the best finished trial (the default when no --trial)"
    )
    export.add_argument(
        "--min-accuracy", type=float, default=None, metavar="X", help="dev accuracy at least X"
    )
    export.add_argument(
        "--max-params",
        type=_positive_count,
        default=None,
        metavar="N",
        help="at most N nonzero parameters (e.g. 4500000, 4.5M)",
    )
    export.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="study database (default: $LADASEARCH_STORAGE, else sqlite:///ladasearch.db)",
    )
    export.add_argument(
        "-o", "--output", type=Path, required=True, metavar="DIR", help="folder to write"
    )
    export.add_argument(
        "--force",
        action="store_true",
        help="replace an earlier export in DIR (only the files its manifest lists)",
    )
    export.add_argument(
        "--dense",
        action="store_true",
        help="a stock architecture with the factors multiplied back (loads anywhere, no saving)",
    )
    export.add_argument(
        "--onnx", action="store_true", help="also write model.onnx (needs the onnx extra)"
    )
    export.add_argument(
        "--quantize", choices=["int8"], default=None, help="with --onnx: also model.int8.onnx"
    )
    export.add_argument(
        "--no-measure",
        dest="measure",
        action="store_false",
        help="skip timing each layer's runtime forms (factorized layers stay factorized)",
    )
    export.add_argument(
        "--retrain",
        action="store_true",
        help="retrain the trial from its configuration when its saved model is gone",
    )
    export.add_argument(
        "--device",
        default="cpu",
        help="device the runtime forms are measured on (and a --retrain runs on)",
    )
    export.add_argument(
        "--json", action="store_true", help="print one JSON object as the last line"
    )
    export.set_defaults(func=run_export)

    predict = subparsers.add_parser(
        "predict", help="classify text with an exported (or saved) compressed model"
    )
    predict.add_argument("model_dir", type=Path, metavar="DIR", help="folder written by export")
    predict.add_argument(
        "--text", action="append", required=True, help="text to classify (repeat for several)"
    )
    predict.add_argument(
        "--text-pair", action="append", default=None, help="second sentence of a pair task"
    )
    predict.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    predict.add_argument("--json", action="store_true", help="print one JSON object")
    predict.set_defaults(func=run_predict)


def run_export(args: argparse.Namespace) -> int:
    """Select the trial (writing nothing if none qualifies), then export it."""
    from ladasearch.export import (
        RETRAINED_NOTE,
        ExportOptions,
        export_trial,
        select_trial,
    )
    from ladasearch.export.folder import check_out_dir
    from ladasearch.search.studydb.records import load_studies

    if args.min_accuracy is not None and not 0.0 <= args.min_accuracy <= 1.0:
        raise LadaError(f"--min-accuracy must be in [0, 1], got {args.min_accuracy}")
    options = ExportOptions(
        dense=args.dense, onnx=args.onnx, quantize=args.quantize, measure=args.measure
    )
    check_out_dir(args.output, args.force)
    (study,) = load_studies([args.study], args.storage)
    trial = select_trial(
        study, number=args.trial, min_accuracy=args.min_accuracy, max_params=args.max_params
    )
    print(
        f"exporting trial {trial.number} of {study.name}: accuracy {trial.accuracy:.4f}, "
        f"{trial.nonzero_params:,.0f} nonzero params",
        file=sys.stderr if args.json else sys.stdout,
    )
    result = export_trial(
        study,
        trial,
        args.output,
        force=args.force,
        allow_retrain=args.retrain,
        device=args.device,
        options=options,
    )
    if args.json:
        print(
            json.dumps(
                {"out_dir": str(result.out_dir), "retrained": result.retrained, **result.config}
            )
        )
        return 0
    metrics = result.config["metrics"]
    if result.retrained:
        print(f"model {RETRAINED_NOTE}")
    print(f"wrote {result.out_dir}/ ({len(result.files)} files):")
    for name in (
        "README.md",
        "ladasearch-config.yaml",
        "ladasearch-config.json",
        "model.safetensors",
        *result.config["runtime"].get("onnx", []),
    ):
        print(f"  {result.out_dir / name}")
    runtime = result.config["runtime"]
    if runtime.get("forms"):
        forms = ", ".join(f"{n} {form}" for form, n in sorted(runtime["forms"].items()))
        print(f"runtime forms ({runtime['threads']} threads, {runtime['device']}): {forms}")
    print(
        f"dev accuracy {metrics.get('accuracy', float('nan')):.4f}, test accuracy "
        f"{metrics.get('test_accuracy', float('nan')):.4f}"
    )
    print(f'try: ladasearch predict {result.out_dir} --text "a gripping film"')
    print(f"     ladasearch bench {result.out_dir}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Load the folder with ``ladasearch.load`` and print label and score per text."""
    import ladasearch

    if args.text_pair is not None and len(args.text_pair) != len(args.text):
        raise LadaError(f"{len(args.text)} --text but {len(args.text_pair)} --text-pair")
    classifier = ladasearch.load(args.model_dir, device=args.device)
    predictions = classifier.predict(args.text, args.text_pair)
    if args.json:
        rows = [
            {"text": text, "label": p.label, "score": p.score, "probabilities": p.probabilities}
            for text, p in zip(args.text, predictions, strict=True)
        ]
        print(json.dumps(rows[0] if len(rows) == 1 else {"predictions": rows}))
        return 0
    for text, prediction in zip(args.text, predictions, strict=True):
        prefix = f"{text[:60]!r}: " if len(args.text) > 1 else ""
        print(f"{prefix}{prediction.label} {prediction.score:.4f}")
    return 0

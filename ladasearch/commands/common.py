"""Arguments shared by every command that takes a model or a task."""

from __future__ import annotations

import argparse

from ladasearch.tasks import TaskSpec

__all__ = [
    "add_model_argument",
    "add_output_arguments",
    "add_task_arguments",
    "task_spec_from_args",
]


def add_model_argument(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``--model``: ``minilm`` (offline default), a local folder, or a Hugging Face hub id."""
    parser.add_argument(
        "--model",
        required=required,
        default=None if required else "minilm",
        help="minilm (offline), a local model folder, or a hub id such as bert-base-uncased",
    )


def add_task_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``--task`` and the column options of the user's own files."""
    parser.add_argument(
        "--task",
        required=required,
        default=None if required else "rt",
        help="rt (offline), glue/sst2, glue/mnli, ..., csv:PATH or jsonl:PATH",
    )
    parser.add_argument(
        "--text-column", default=None, help="text column of csv:/jsonl: data (default: text)"
    )
    parser.add_argument(
        "--text-pair-column", default=None, help="second text column for sentence pairs"
    )
    parser.add_argument("--label-column", default=None, help="label column (default: label)")
    parser.add_argument(
        "--dev", default=None, metavar="PATH", help="a dev file for csv:/jsonl: tasks"
    )
    parser.add_argument(
        "--test",
        default=None,
        metavar="PATH",
        help="a test file for csv:/jsonl: tasks (default: a seeded stratified 10%% of the file)",
    )


def task_spec_from_args(args: argparse.Namespace, *, seed: int = 0) -> TaskSpec:
    """Build the :class:`TaskSpec` the parsed ``--task`` options describe."""
    return TaskSpec(
        name=args.task,
        text_column=args.text_column,
        text_pair_column=args.text_pair_column,
        label_column=args.label_column,
        dev_path=args.dev,
        seed=seed,
        test_path=getattr(args, "test", None),
    )


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--json`` and ``--quiet``."""
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object as the last line"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")

"""Helpers of the search tests: tiny study files and the ``ladasearch`` command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]


def write_study(folder: Path, model_dir: Path, csv_path: Path, **overrides: Any) -> Path:
    """A tiny fixed-target study over the tiny model and CSV task (seconds per trial)."""
    study: dict[str, Any] = {
        "name": "tiny",
        "model": str(model_dir),
        "task": f"csv:{csv_path}",
        "text_column": "sentence",
        "label_column": "sentiment",
        "mode": "fixed",
        "target": 0.5,
        "trials": 3,
        "seed": 0,
        "max_concurrent": 1,
        "runs_dir": str(folder / "runs"),
        "trial": {"iterations": 2, "steps": 2, "batch_size": 16, "max_length": 16},
        # a 3-step teacher is not above the majority class: these tests are about the search
        "teacher": {"steps": 3, "batch_size": 16, "allow_weak": True},
        "resources": {"cpu": 1, "gpu": 0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(study.get(key), dict):
            study[key] = {**study[key], **value}
        else:
            study[key] = value
    path = folder / f"{study['name']}.yaml"
    path.write_text(yaml.safe_dump(study), encoding="utf-8")
    return path


def cli_env(cache: Path) -> dict[str, str]:
    """Environment of a ``python -m ladasearch`` subprocess (repo importable, quiet, own cache)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env["LADASEARCH_CACHE"] = str(cache)
    env.pop("LADASEARCH_STORAGE", None)
    return env


def ladasearch(
    args: list[str],
    cwd: Path,
    cache: Path,
    timeout: float = 300,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ladasearch ARGS`` in ``cwd``; return the completed process."""
    env = {**cli_env(cache), **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ladasearch", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_json(stdout: str) -> dict[str, Any]:
    """The JSON object on the last line of ``stdout``."""
    return json.loads(stdout.strip().splitlines()[-1])

"""Packaging: the top-level folders install as ladasearch.*, without the links in ladasearch/.

The sdist carries the design card's folders and the tests with ``conftest.py``; a wheel built from
that sdist (where no link exists) carries every package and the demo study as package data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[1]
SKIP = ("__pycache__", "*.egg-info", "build", "dist", "runs", "ladasearch-demo", ".*_cache", ".git")


def _setuptools() -> dict[str, object]:
    return dict(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"])[
        "setuptools"
    ]


def test_package_list_matches_the_packages_on_disk() -> None:
    setup = _setuptools()
    listed = set(setup["packages"])  # type: ignore[call-overload]
    package_dir: dict[str, str] = setup["package-dir"]  # type: ignore[assignment]
    on_disk = {"ladasearch.studies"}  # data only: no __init__.py
    for folder, _, files in os.walk(REPO / "ladasearch", followlinks=True):  # the links too
        if "__init__.py" in files:
            on_disk.add(".".join(Path(folder).relative_to(REPO).parts))
    assert listed == on_disk, "pyproject's [tool.setuptools] packages must list every package"
    for name, folder in package_dir.items():
        if name != "ladasearch":
            link = REPO / Path(*name.split("."))
            assert (REPO / folder).is_dir() and not (REPO / folder).is_symlink()
            if link.exists():  # the checkout's link names the same folder
                assert link.resolve() == (REPO / folder).resolve()


def _build(hook: str, source: Path, out: Path) -> Path:
    out.mkdir()
    code = f"from setuptools import build_meta; print(build_meta.{hook}({str(out)!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=source, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out / done.stdout.strip().splitlines()[-1]


def test_sdist_and_wheel_from_it_carry_the_folders_tests_and_demo_study(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, symlinks=True, ignore=shutil.ignore_patterns(*SKIP))
    sdist = _build("build_sdist", checkout, tmp_path / "sdist")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        archive.extractall(tmp_path / "unpacked", filter="data")
    for path in (
        "compression/accounting.py",
        "search/cluster.py",
        "ladasearch/demo.py",
        "ladasearch/export/write.py",
        "studies/demo.yaml",
        "tests/conftest.py",
        "tests/search_helpers.py",
    ):
        assert path in names, f"sdist lacks {path}"
    assert not any(name.startswith("ladasearch/compression/") for name in names), "link copied"

    root = next((tmp_path / "unpacked").iterdir())
    assert not (root / "ladasearch" / "compression").exists()  # the wheel below needs no link
    wheel = _build("build_wheel", root, tmp_path / "wheel")
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())
    for path in (
        "ladasearch/cli.py",
        "ladasearch/commands/demo.py",
        "ladasearch/tasks/rt.py",
        "ladasearch/compression/accounting.py",
        "ladasearch/search/cluster.py",
        "ladasearch/demo.py",
        "ladasearch/export/write.py",
        "ladasearch/studies/demo.yaml",
        "ladasearch/py.typed",
    ):
        assert path in files, f"wheel lacks {path}"
    assert not any(name.startswith(("compression/", "tests/", "studies/")) for name in files)

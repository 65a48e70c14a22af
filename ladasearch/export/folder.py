"""Where an export is written, safely: a manifest, refusals, atomic staging and swap.

An export folder lists every file it wrote in ``MANIFEST`` (relative paths). ``--force`` replaces
a folder only when it is such an export and holds nothing else; it never touches the working
folder or a parent of it (``.``, ``..``), the home folder, the filesystem root or a repository
root (a folder holding ``.git``). The new export is written to a hidden staging folder beside
the target and swapped in with renames: the old export is renamed aside, the new one into place,
the old one deleted last; any failure puts the old one back. Files are made readable by the
group and others as the umask allows (``tempfile.mkdtemp`` alone would make the folder private).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ladasearch.errors import LadaError

__all__ = ["MANIFEST", "check_out_dir", "staged_folder", "write_manifest"]

MANIFEST = "ladasearch-export.json"


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}


def _manifest_files(folder: Path) -> set[str] | None:
    try:
        document = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return set(files) | {MANIFEST}


def _protected(folder: Path) -> str | None:
    """Why ``folder`` may never be replaced, or None."""
    resolved = folder.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        return "it is the working folder or one of its parents"
    if resolved == Path.home().resolve():
        return "it is the home folder"
    if resolved.parent == resolved:
        return "it is the filesystem root"
    if (resolved / ".git").exists():
        return "it is a repository root"
    return None


def check_out_dir(out_dir: Path, force: bool) -> None:
    """Refuse an ``out_dir`` the export may not write (one line each, nothing touched).

    Refused always: a file in its place, and a non-empty protected folder (see the module). A
    non-empty folder needs ``force``, and then must be an earlier export (its manifest) holding
    only the files that manifest lists.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise LadaError(f"{out_dir} exists and is not a folder")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        if out_dir.is_dir() and (why := _protected(out_dir)):
            raise LadaError(f"refusing to export into {out_dir}: {why}; choose another -o DIR")
        return
    if why := _protected(out_dir):
        raise LadaError(f"refusing to export into {out_dir}: {why}; choose another -o DIR")
    if not force:
        raise LadaError(
            f"{out_dir} is not empty: pass --force to overwrite it, or choose another -o DIR"
        )
    listed = _manifest_files(out_dir)
    if listed is None:
        raise LadaError(
            f"--force refused: {out_dir} is not an earlier export (no readable {MANIFEST}); "
            "choose another -o DIR"
        )
    foreign = sorted(_files(out_dir) - listed)
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise LadaError(
            f"--force refused: {out_dir} holds files the export did not write ({foreign[0]}{more}); "
            "move them away or choose another -o DIR"
        )


def write_manifest(folder: Path, extra: dict[str, object] | None = None) -> list[str]:
    """List every file under ``folder`` in its manifest; returns the list (manifest included)."""
    files = sorted(_files(folder) | {MANIFEST})
    document = {"format": "ladasearch-export-manifest", "files": files, **(extra or {})}
    (folder / MANIFEST).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return files


def _readable(folder: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


@contextmanager
def staged_folder(out_dir: Path) -> Iterator[Path]:
    """A fresh staging folder beside ``out_dir``; on success it replaces ``out_dir`` atomically.

    On an exception the staging folder is removed and ``out_dir`` is left as it was.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    aside = staging.with_name(staging.name + ".old")
    try:
        yield staging
        _readable(staging)
        if out_dir.exists():
            out_dir.rename(aside)
        try:
            staging.rename(out_dir)
        except BaseException:
            if aside.exists():
                aside.rename(out_dir)
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)

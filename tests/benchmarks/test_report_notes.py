"""BENCHMARKS.md's hand-written parts are files of the repo, so a fresh clone regenerates it whole."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from benchmarks import report

NOTE_CALL = re.compile(r'note\("([a-z-]+)"\)')


def test_every_note_render_inserts_exists_and_is_not_git_ignored() -> None:
    source = Path(report.__file__).read_text(encoding="utf-8")
    names = NOTE_CALL.findall(source)
    assert names, "render() inserts no hand-written part"
    for name in names:
        lines = report.note(name)
        assert lines and lines[0].strip(), f"{name}.md is missing or starts blank"
    repo = Path(report.__file__).resolve().parents[1]
    if shutil.which("git") is None or not (repo / ".git").exists():
        return  # an installed copy: nothing can be ignored
    checked = subprocess.run(
        ["git", "check-ignore", "-q", "--no-index", str(report.NOTES / f"{names[0]}.md")], cwd=repo
    )
    assert checked.returncode == 1, "benchmarks/results/notes/ is git-ignored"

"""Processes a search starts, and the reaper that ends them when the search dies.

``ray.init`` starts a local Ray whose dashboard and runtime-env agents outlive a driver killed
with ``kill -9``. After Ray starts, the driver writes every process it started (pid and kernel
start time, so a reused pid is never touched) to ``ray-processes-<pid>.json`` in the run folder
(one file per driver: several workers may share the folder) and
starts a reaper (``python -m ladasearch.search.procs``, in its own session so that killing the
search's process group spares it) that polls the driver twice a second and, once the driver is
gone, kills what the file lists. The next search on the same run folder also reaps the files
left behind by dead drivers (a reaper killed too), before it starts anything
(:func:`reap_folder`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["Reaper", "alive", "descendants", "reap", "reap_folder", "start_time"]

PROCESS_GLOB = "ray-processes-*.json"


def start_time(pid: int) -> int | None:
    """The kernel start time of ``pid`` (clock ticks since boot), ``None`` when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive(pid: int, started: int | None = None) -> bool:
    """Whether ``pid`` runs (and, given ``started``, is the same process, not a reused pid)."""
    now = start_time(pid)
    if now is None:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z" and (started is None or now == started)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    """Every living descendant of ``pid``."""
    tree = _children()
    found: list[int] = []
    stack = list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(tree.get(child, []))
    return found


def _record(path: Path, driver: int, skip: set[int]) -> None:
    processes = [{"pid": p, "start": start_time(p)} for p in descendants(driver) if p not in skip]
    data = {"driver": {"pid": driver, "start": start_time(driver)}, "processes": processes}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)


def reap(path: Path, *, force: bool = False) -> int:
    """Kill the processes ``path`` lists if its driver is dead (or ``force``); return how many.

    The file is removed once its processes are gone.
    """
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    driver = data.get("driver", {})
    if not force and alive(int(driver.get("pid", -1)), driver.get("start")):
        return 0
    killed = 0
    listed = [p for p in data.get("processes", []) if alive(int(p["pid"]), p.get("start"))]
    for entry in listed:  # their own children too (workers of a raylet), then themselves
        for pid in [*descendants(int(entry["pid"])), int(entry["pid"])]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    with contextlib.suppress(OSError):
        path.unlink()
    return killed


def reap_folder(folder: Path) -> int:
    """Reap every process file in ``folder`` whose driver is dead; return the processes killed."""
    return sum(reap(path) for path in sorted(folder.glob(PROCESS_GLOB)))


class Reaper:
    """Records the driver's processes in ``folder/ray-processes-<pid>.json`` and watches the driver."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / PROCESS_GLOB.replace("*", str(os.getpid()))
        self.process: subprocess.Popen[bytes] | None = None
        self._before = set(descendants(os.getpid()))  # not ours to kill: started before Ray

    def start(self) -> None:
        """Record the processes started so far and start the watching reaper."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ladasearch.search.procs", str(os.getpid()), str(self.path)],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.refresh()

    def refresh(self) -> None:
        """Record the processes started so far again (Ray starts some lazily)."""
        skip = self._before | ({self.process.pid} if self.process else set())
        _record(self.path, os.getpid(), skip)

    def stop(self) -> None:
        """After a clean shutdown: kill what is left, remove the file, end the reaper."""
        reap(self.path, force=True)
        if self.process is not None:
            with contextlib.suppress(OSError):
                self.process.kill()
            self.process.wait()


def _watch(driver: int, path: Path) -> None:
    started = start_time(driver)
    while alive(driver, started) and path.exists():
        time.sleep(0.5)
    if path.exists():
        reap(path)


if __name__ == "__main__":
    _watch(int(sys.argv[1]), Path(sys.argv[2]))

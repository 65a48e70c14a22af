"""Processes a search starts, and the reaper that ends them when the search dies.

``ray.init`` starts a local Ray whose dashboard and runtime-env agents outlive a driver killed
with ``kill -9``. Before Ray starts, the driver puts a random token in its environment
(``LADASEARCH_REAPER_TOKEN``): every process Ray starts (GCS, raylet, agents, and the workers the
raylet starts) inherits it, and the driver removes it again once ``ray.init`` returns. The token
and the driver's pid and start time go to ``ray-processes-<pid>.json`` in the run folder (one
file per driver: several workers may share the folder), and a reaper
(``python -m ladasearch.search.procs``, in its own session so that killing the search's process
group spares it) follows the token holders and their descendants (the raylet starts its agents
without the token) while the driver lives, recording them in the file, and once the driver is
gone kills them all. The next search on the same run folder also reaps the files left by dead
drivers (a reaper killed too) before it starts anything (:func:`reap_folder`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = [
    "TOKEN_ENV",
    "Reaper",
    "alive",
    "descendants",
    "holding",
    "reap",
    "reap_folder",
    "start_time",
]

PROCESS_GLOB = "ray-processes-*.json"
TOKEN_ENV = "LADASEARCH_REAPER_TOKEN"


def start_time(pid: int) -> int | None:
    """The kernel start time of ``pid`` (clock ticks since boot), ``None`` when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive(pid: int, started: int | None = None) -> bool:
    """Whether ``pid`` runs (and, given ``started``, is the same process, not a reused pid)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and (started is None or int(fields[19]) == started)


def descendants(pid: int) -> list[int]:
    """Every living descendant of ``pid``."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                tree.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    stack = list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(tree.get(child, []))
    return found


def holding(token: str) -> list[int]:
    """The processes whose environment holds ``TOKEN_ENV=token`` (this one excluded)."""
    marker = f"{TOKEN_ENV}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


def _marked(token: str, known: dict[int, int | None]) -> dict[int, int | None]:
    """Token holders, their descendants (Ray's agents do not inherit the token), and ``known``."""
    found = {pid: start for pid, start in known.items() if alive(pid, start)}
    for pid in holding(token):
        for one in (pid, *descendants(pid)):
            found.setdefault(one, start_time(one))
    return found


def reap(path: Path, *, force: bool = False) -> int:
    """Kill the processes of the file ``path`` if its driver is dead (or ``force``).

    Returns how many were killed; the file is removed once they are gone.
    """
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    driver = data.get("driver", {})
    if not force and alive(int(driver.get("pid", -1)), driver.get("start")):
        return 0
    known = {int(pid): start for pid, start in data.get("processes", [])}
    killed = 0
    for _ in range(3):  # a process may fork while we kill: look again
        pids = _marked(str(data.get("token", "")), known)
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        if not pids:
            break
        known = {}
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        path.unlink()
    return killed


def reap_folder(folder: Path) -> int:
    """Reap every process file in ``folder`` whose driver is dead; return the processes killed."""
    return sum(reap(path) for path in sorted(folder.glob(PROCESS_GLOB)))


class Reaper:
    """Marks the processes Ray is about to start and watches the driver (see the module doc)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / PROCESS_GLOB.replace("*", str(os.getpid()))
        self.token = secrets.token_hex(16)
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Reaper:
        """Write the process file, start the reaper, mark what starts next with the token."""
        pid = os.getpid()
        record = {"driver": {"pid": pid, "start": start_time(pid)}, "token": self.token}
        self.path.write_text(json.dumps(record), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ladasearch.search.procs", str(pid), str(self.path)],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        os.environ[TOKEN_ENV] = self.token
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop marking: later children of this process are not Ray's."""
        os.environ.pop(TOKEN_ENV, None)

    def stop(self) -> None:
        """After Ray's shutdown: kill what is left, remove the file, end the reaper."""
        os.environ.pop(TOKEN_ENV, None)
        reap(self.path, force=True)
        if self.process is not None:
            with contextlib.suppress(OSError):
                self.process.kill()
            self.process.wait()


def _watch(driver: int, path: Path) -> None:
    """Follow the driver's Ray processes while it lives (recorded in ``path``), then reap."""
    started = start_time(driver)
    known: dict[int, int | None] = {}
    watching = time.monotonic()
    while alive(driver, started) and path.exists():
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
            now = _marked(str(data.get("token", "")), known)
            if now.keys() - known.keys():
                data["processes"] = sorted(now.items())
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data), encoding="utf-8")
                os.replace(tmp, path)
            known = now
        # Ray starts its processes in the first seconds: look often then, once a second after
        # (a scan of /proc costs ~6% of a core at 4 Hz; a killed search is still reaped in ~1 s).
        time.sleep(0.25 if time.monotonic() - watching < 30 else 1.0)
    if path.exists():
        reap(path)


if __name__ == "__main__":
    _watch(int(sys.argv[1]), Path(sys.argv[2]))

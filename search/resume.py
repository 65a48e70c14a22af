"""Resume: which trials count towards ``--trials``, and trials left RUNNING by a dead process.

A trial is *stale* when it is RUNNING but nobody runs it: its process died (``kill -9``, a lost
node). It is marked FAIL with ``fail_reason = "stale: the process running it died"`` and its
parameters are enqueued again. Stale means: this driver owns the study (no other live driver:
the ``driver`` study attribute names a dead process on this host, or its heartbeat is older than
:data:`STALE_SECONDS`) and the trial is RUNNING; or, with another live driver, the trial's own
``heartbeat`` user attribute is older than :data:`STALE_SECONDS`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "STALE",
    "STALE_SECONDS",
    "DriverHeartbeat",
    "counted",
    "fail_stale_trials",
    "owns_study",
]

STALE = "stale: the process running it died"
STALE_SECONDS = 120.0
_RETRY_PREFIXES = ("stale:", "stopped:")


def counted(trial: FrozenTrial) -> bool:
    """Whether a trial counts towards ``--trials``: COMPLETE, PRUNED, or FAIL that is not stale."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    if trial.state == TrialState.FAIL:
        return not str(trial.user_attrs.get("fail_reason", "")).startswith(_RETRY_PREFIXES)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owns_study(study: optuna.Study, now: float | None = None) -> bool:
    """True when no other live driver runs ``study`` (so all its RUNNING trials are orphans)."""
    now = time.time() if now is None else now
    driver = study.user_attrs.get("driver")
    if not isinstance(driver, dict):
        return True
    if now - float(driver.get("heartbeat", 0.0)) > STALE_SECONDS:
        return True
    if driver.get("host") == socket.gethostname():
        pid = int(driver.get("pid", -1))
        return pid == os.getpid() or not _alive(pid)
    return False


def fail_stale_trials(study: optuna.Study, *, owner: bool, now: float | None = None) -> list[int]:
    """Mark stale RUNNING trials FAIL, enqueue their parameters again; return their numbers."""
    now = time.time() if now is None else now
    storage = study._storage
    stale = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        beat = float(trial.user_attrs.get("heartbeat", started))
        if not owner and now - beat <= STALE_SECONDS:
            continue
        storage.set_trial_user_attr(trial._trial_id, "fail_reason", STALE)
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        if trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        stale.append(trial.number)
    return stale


class DriverHeartbeat:
    """Keeps the study attribute ``driver = {host, pid, heartbeat}`` fresh while a search runs."""

    def __init__(self, study: optuna.Study, interval: float = 30.0) -> None:
        self.study = study
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ladasearch-driver", daemon=True)

    def beat(self) -> None:
        record: dict[str, Any] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "heartbeat": time.time(),
        }
        self.study.set_user_attr("driver", record)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):  # a busy database: the next beat will do
                self.beat()

    def __enter__(self) -> DriverHeartbeat:
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(Exception):  # leave a heartbeat that says "nobody runs it now"
            self.study.set_user_attr(
                "driver", {"host": socket.gethostname(), "pid": -1, "heartbeat": 0.0}
            )

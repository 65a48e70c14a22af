"""Resume: which trials count towards ``trials``, and trials left RUNNING by a dead process.

Liveness is Optuna's own heartbeat: the study database is opened with ``heartbeat_interval`` and
``grace_period`` (:mod:`ladasearch.search.studydb.connect`), the driver records a heartbeat for every
trial it runs (:class:`TrialBeats`, through the public ``record_heartbeat``), and
``optuna.storages.fail_stale_trials`` fails RUNNING trials whose heartbeat is older than the
grace period, then calls the storage's ``heartbeat_stale_trial_callback``
(:class:`RequeueStale`: enqueue the parameters again). Trials whose driver (the ``driver`` user
attribute: host, pid, process start time) is a dead process on this host are failed at once,
without waiting for the grace period, through ``study.tell(number, state=FAIL)``.

A stale trial is FAIL with ``fail_reason = "stale: ..."`` (or no ``fail_reason`` when Optuna's
heartbeat failed it: a finished trial takes no new attributes); neither counts towards the study's
``trials``, and its parameters are enqueued again with ``retry_of`` naming it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import warnings
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from ladasearch.search.procs import alive, start_time

__all__ = [
    "STALE",
    "RequeueStale",
    "TrialBeats",
    "counted",
    "driver_record",
    "fail_stale_trials",
    "occupied",
    "stop_leftovers",
    "worker_rank",
]

STALE = "stale: the process running it died"
_RETRY_PREFIXES = ("stale:", "stopped:", "surplus:", "duplicate:")
LEGACY_STALE_SECONDS = 120.0  # trials written before Optuna's heartbeat was used


def counted(trial: FrozenTrial) -> bool:
    """Whether a trial counts towards ``trials``: COMPLETE, PRUNED, or FAIL with a real reason.

    A FAIL trial without ``fail_reason`` was failed by Optuna's heartbeat (its process died);
    ``stale:``, ``stopped:``, ``surplus:`` and ``duplicate:`` trials were retried or never ran:
    none counts.
    """
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    if trial.state == TrialState.FAIL:
        reason = str(trial.user_attrs.get("fail_reason", ""))
        return bool(reason) and not reason.startswith(_RETRY_PREFIXES)
    return False


def occupied(trials: list[FrozenTrial]) -> int:
    """Trials that count, plus the RUNNING ones (they will count once finished)."""
    return sum(1 for t in trials if counted(t) or t.state == TrialState.RUNNING)


def driver_record() -> dict[str, Any]:
    """This process as a trial's ``driver`` user attribute (host, pid, start time)."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": start_time(pid)}


def _driver_dead(trial: FrozenTrial) -> bool:
    driver = trial.user_attrs.get("driver")
    if driver is None:  # a trial of a search older than the driver record: its own beat
        beat = trial.user_attrs.get("heartbeat")
        return isinstance(beat, (int, float)) and time.time() - beat > LEGACY_STALE_SECONDS
    if not isinstance(driver, dict) or driver.get("host") != socket.gethostname():
        return False
    pid = int(driver.get("pid", -1))
    if pid == os.getpid():
        return False
    return not alive(pid, driver.get("start"))


def _requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    if trial.params:
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


class RequeueStale:
    """Optuna's ``heartbeat_stale_trial_callback``: enqueue a stale trial's parameters again."""

    def __init__(self) -> None:
        self.failed: list[int] = []

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.failed.append(trial.number)
        _requeue(study, trial)


def fail_stale_trials(study: optuna.Study, storage: optuna.storages.RDBStorage) -> list[int]:
    """Fail the RUNNING trials nobody runs any more, enqueue them again; return their numbers.

    First those whose driver is a dead process on this host (at once), then, through
    ``optuna.storages.fail_stale_trials``, those whose heartbeat is past the grace period.
    """
    stale: list[int] = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _driver_dead(trial):
            continue
        try:
            study_id = storage.get_study_id_from_name(study.study_name)
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            storage.set_trial_user_attr(trial_id, "fail_reason", STALE)
            study.tell(trial.number, state=TrialState.FAIL)
        except Exception:  # another worker failed it first
            continue
        _requeue(study, trial)
        stale.append(trial.number)
    callback = RequeueStale()
    storage.heartbeat_stale_trial_callback = callback
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return sorted(stale + callback.failed)


def worker_rank(study: optuna.Study) -> int:
    """This worker's rank among every worker that ever ran the study (0 for the first).

    Workers that share a study must not share a sampler seed (they would propose the same
    ratios); each one registers a ``worker:`` study attribute stamped with its start, then counts
    the registrations before its own. A single worker's runs stay reproducible (ranks 0, 1, ...).
    """
    key = f"worker:{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
    stamp = time.time()
    study.set_user_attr(key, stamp)
    workers = {k: v for k, v in study.user_attrs.items() if k.startswith("worker:")}
    return sorted(workers, key=lambda k: (float(workers[k]), k)).index(key)


def stop_leftovers(
    study: optuna.Study, storage: optuna.storages.RDBStorage, numbers: list[int], reason: str
) -> None:
    """Trials this process asked for but left RUNNING (interrupted): FAIL ``stopped:``, enqueued."""
    study_id = storage.get_study_id_from_name(study.study_name)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.number not in numbers:
            continue
        try:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            storage.set_trial_user_attr(trial_id, "fail_reason", reason)
            study.tell(trial.number, state=TrialState.FAIL)
        except Exception:  # told meanwhile
            continue
        if trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


class TrialBeats:
    """Records Optuna's heartbeat for every trial this driver runs, in a background thread."""

    def __init__(self, storage: optuna.storages.RDBStorage, interval: float) -> None:
        self.storage = storage
        self.interval = interval
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ladasearch-beats", daemon=True)

    def add(self, trial_id: int) -> None:
        """Start beating for ``trial_id`` (one beat now)."""
        with self._lock:
            self._ids.add(trial_id)
        with contextlib.suppress(Exception):
            self.storage.record_heartbeat(trial_id)

    def discard(self, trial_id: int) -> None:
        """Stop beating for ``trial_id``."""
        with self._lock:
            self._ids.discard(trial_id)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                ids = sorted(self._ids)
            for trial_id in ids:
                with contextlib.suppress(Exception):  # a busy database: the next beat will do
                    self.storage.record_heartbeat(trial_id)

    def __enter__(self) -> TrialBeats:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

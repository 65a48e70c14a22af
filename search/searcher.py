"""``StudySearcher``: Ray's ``OptunaSearch`` told the truth about how each trial ended.

Ray's ``OptunaSearch`` stores a trial that a Tune scheduler stopped early as COMPLETE with its
last (partial) value, and a trial whose function caught its own error as COMPLETE too. This
subclass (a) passes the Optuna trial number to the trainable (``config["_trial_number"]``) and
records the sampled ratios as user attributes at once, (b) tells a trial that ended before its
``final`` report as PRUNED (a COMPLETE one of a latency-bounded study carries its constraint,
:mod:`ladasearch.search.latency_bound`), (c) tells a trial that failed (``failed`` in its last report, or a
Ray error) as FAIL with a one-line ``fail_reason``, and (d) tells a trial stopped by the end of
the search (Ctrl-C, a pending trial never run) as FAIL with a ``stopped:`` reason and enqueues
its parameters again, so a resumed study retries it, and (e) never runs a point the engine
would build the same as a COMPLETE or RUNNING trial's (:mod:`ladasearch.search.dedupe`): the
repeat is told FAIL ``duplicate:`` and the sampler asked again.

Many workers share one study: ``total`` is the study's number of trials. The searcher stops
launching (``Searcher.FINISHED``) once the study's counted plus RUNNING trials reach ``total``,
and a trial asked past ``total`` by a race between workers (more than ``total`` counted or
RUNNING trials started before it) is told FAIL ``surplus:`` at once, never run and never
counted. Each launched trial gets a ``driver`` user attribute (host, pid, start time) and an
Optuna heartbeat (``beats``) while it runs.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any

from optuna.trial import FrozenTrial, TrialState
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from ladasearch.compression.ratios import RATIO_KEYS
from ladasearch.search.dedupe import MAX_RESAMPLES, duplicate_reason, find_twin
from ladasearch.search.latency_bound import LatencyBound
from ladasearch.search.resume import TrialBeats, counted, driver_record, occupied

__all__ = ["OBJECTIVE_KEYS", "STOPPED", "SURPLUS", "StudySearcher", "TrialOutcome"]

logger = logging.getLogger(__name__)

OBJECTIVE_KEYS = {"accuracy": "accuracy", "params": "params", "latency": "latency_ms"}
"""Study-file objective name -> the result / user-attribute key it reads."""

STOPPED = "stopped: the search ended before the trial finished"
FINISHED: Any = Searcher.FINISHED  # Tune's "no more trials" (a str where a dict is typed)
SURPLUS = "surplus: the study already had its trials when this one was asked (another worker)"

SPACE_ATTRS = (
    *RATIO_KEYS, "target_ratio", "predicted_ratio", "rejected_samples", "factorization"
)  # fmt: skip

TrialOutcome = Callable[[int, TrialState, "list[float] | None", "dict[str, Any]"], None]
"""Called after each tell with (trial number, state, values, config)."""


class StudySearcher(OptunaSearch):
    """``OptunaSearch`` over a define-by-run space, with honest PRUNED / FAIL states.

    ``objectives`` are study-file names (``accuracy``, ``params``, ``latency``); ``on_told`` is
    called after each trial is told (progress lines). ``groups`` (default: ``space.sizes.groups``)
    are the model's eq. 7 groups that repeated points are judged on; ``latency`` is the study's
    :class:`LatencyBound`, stored as a constraint on every COMPLETE trial.
    """

    def __init__(
        self,
        space: Callable[[Any], dict[str, Any]],
        *,
        objectives: tuple[str, ...],
        sampler: Any,
        study_name: str,
        storage: Any,
        on_told: TrialOutcome | None = None,
        total: int | None = None,
        beats: TrialBeats | None = None,
        on_start: Callable[[int, dict[str, Any]], None] | None = None,
        groups: Any = None,
        latency: LatencyBound | None = None,
    ) -> None:
        metrics = [OBJECTIVE_KEYS[name] for name in objectives]
        modes = ["max" if name == "accuracy" else "min" for name in objectives]
        single = len(metrics) == 1
        super().__init__(
            space=space,
            metric=metrics[0] if single else metrics,
            mode=modes[0] if single else modes,
            sampler=sampler,
            study_name=study_name,
            storage=storage,
        )
        self._on_told = on_told
        self._on_start = on_start
        self._beats = beats
        self.total = total
        self._last_seen: dict[str, int] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self.asked: list[int] = []
        # what the engine builds is compared on the model's groups (the space's, by default)
        self._groups = (
            groups if groups is not None else getattr(getattr(space, "sizes", None), "groups", None)
        )
        self._latency = latency
        self.duplicates: list[int] = []

    def save_to_dir(self, checkpoint_dir: str, session_str: str = "default") -> None:
        """Nothing to save: the study database is the checkpoint (resume goes through it)."""

    def __getstate__(self) -> dict[str, Any]:
        """Pickled by Tune into its experiment state: no threads, no callbacks."""
        state = dict(self.__dict__)
        for key in ("_beats", "_on_told", "_on_start"):
            state[key] = None
        return state

    def _trial_id(self, number: int) -> int:
        storage = self._storage
        assert storage is not None
        study_id = storage.get_study_id_from_name(self._study_name)
        return int(storage.get_trial_id_from_study_id_trial_number(study_id, number))

    def _full(self) -> bool:
        if self.total is None or self._ot_study is None:
            return False
        return occupied(self._ot_study.get_trials(deepcopy=False)) >= self.total

    def _surplus(self, number: int) -> bool:
        """More than ``total`` counted or RUNNING trials started before trial ``number``."""
        if self.total is None or self._ot_study is None:
            return False
        trials = self._ot_study.get_trials(deepcopy=False)
        mine = next(t for t in trials if t.number == number)

        def key(trial: FrozenTrial) -> tuple[float, int]:
            start = trial.datetime_start.timestamp() if trial.datetime_start else float("inf")
            return start, trial.number

        before = [
            t
            for t in trials
            if t.number != number
            and (counted(t) or t.state == TrialState.RUNNING)
            and key(t) < key(mine)
        ]
        return len(before) >= self.total

    def suggest(self, trial_id: str) -> dict[str, Any] | None:  # or Searcher.FINISHED
        if self._full():
            return FINISHED
        config = self._suggest_new(trial_id)
        if not isinstance(config, dict):
            return config
        ot_trial = self._ot_trials[trial_id]
        ot_trial.set_user_attr("driver", driver_record())
        if self._surplus(ot_trial.number):
            self._refuse(trial_id, ot_trial)
            return FINISHED
        if self._beats is not None:
            self._beats.add(self._trial_id(ot_trial.number))
        for key in SPACE_ATTRS:
            if config.get(key) is not None:
                ot_trial.set_user_attr(key, config[key])
        config["_trial_number"] = ot_trial.number
        self._configs[trial_id] = config
        self.asked.append(ot_trial.number)
        if self._on_start is not None:
            self._on_start(ot_trial.number, config)
        return config

    def _suggest_new(self, trial_id: str) -> dict[str, Any] | None:
        """A proposal whose engine-rounded ratios no COMPLETE or RUNNING trial has.

        A repeat is told FAIL ``duplicate:`` (not counted, not requeued) and the sampler asked
        again; after ``MAX_RESAMPLES`` repeats in a row the search stops (``FINISHED``).
        """
        for resampled in range(MAX_RESAMPLES + 1):
            config = super().suggest(trial_id)
            if not isinstance(config, dict) or self._ot_study is None:
                return config
            ot_trial = self._ot_trials[trial_id]
            trials = self._ot_study.get_trials(deepcopy=False)
            twin = find_twin(config, trials, self._groups, exclude=ot_trial.number)
            if twin is None:
                if resampled:
                    ot_trial.set_user_attr("resampled_duplicates", resampled)
                return config
            self._discard_duplicate(trial_id, ot_trial, config, twin)
        logger.warning(
            "the sampler proposed %d points already run in a row: the space looks exhausted at "
            "the engine's rounding; stopping",
            MAX_RESAMPLES + 1,
        )
        return FINISHED

    def _discard_duplicate(
        self, trial_id: str, ot_trial: Any, config: dict[str, Any], twin: int
    ) -> None:
        """Tell a proposal that repeats trial ``twin`` FAIL ``duplicate:``; forget it here."""
        del self._ot_trials[trial_id]
        study = self._ot_study
        assert study is not None
        for key in SPACE_ATTRS:
            if config.get(key) is not None:
                ot_trial.set_user_attr(key, config[key])
        ot_trial.set_user_attr("duplicate_of", twin)
        ot_trial.set_user_attr("fail_reason", duplicate_reason(twin))
        study.tell(ot_trial, state=TrialState.FAIL)
        self.duplicates.append(ot_trial.number)
        logger.info("trial %s repeats trial %s: resampled", ot_trial.number, twin)

    def _refuse(self, trial_id: str, ot_trial: Any) -> None:
        """Tell a trial asked past ``total`` FAIL ``surplus:``; put enqueued parameters back."""
        self._completed_trials.add(trial_id)
        study = self._ot_study
        assert study is not None
        assert self._storage is not None
        frozen = self._storage.get_trial(self._trial_id(ot_trial.number))
        fixed = "fixed_params" in frozen.system_attrs  # an enqueued trial: keep it queued
        try:
            ot_trial.set_user_attr("fail_reason", SURPLUS)
            study.tell(ot_trial, state=TrialState.FAIL)
            if fixed and ot_trial.params:
                study.enqueue_trial(ot_trial.params, user_attrs={"retry_of": ot_trial.number})
        except Exception as exc:
            logger.warning("could not record surplus trial %s: %s", ot_trial.number, exc)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self._last_seen[trial_id] = int(result.get("training_iteration", 0))
        if result.get("failed") or not isinstance(self.metric, str) or self.metric not in result:
            return
        super().on_trial_result(trial_id, result)

    def _values(self, result: dict[str, Any]) -> list[float] | None:
        metrics = [self.metric] if isinstance(self.metric, str) else list(self.metric)
        values = [result.get(name) for name in metrics]
        if any(not isinstance(v, (int, float)) or not math.isfinite(v) for v in values):
            return None
        return [float(v) for v in values]  # type: ignore[arg-type]

    def _stored_attrs(self, number: int) -> dict[str, Any]:
        """The trial's user attributes as stored now (the trainable writes some from its process)."""
        storage = self._storage
        assert storage is not None
        study_id = storage.get_study_id_from_name(self._study_name)
        return dict(
            storage.get_trial_user_attrs(
                storage.get_trial_id_from_study_id_trial_number(study_id, number)
            )
        )

    def _decide(
        self, trial_id: str, result: dict[str, Any] | None, error: bool
    ) -> tuple[TrialState, list[float] | None, str | None]:
        """(state, values, fail_reason) for how the trial ended."""
        if error:
            return (
                TrialState.FAIL,
                None,
                "ray: the trial's worker raised or died (see the Ray logs)",
            )
        if not result:
            return TrialState.FAIL, None, STOPPED
        if result.get("pruned"):  # stopped itself at an early-stopping rung
            return TrialState.PRUNED, None, None
        if result.get("failed"):
            return TrialState.FAIL, None, str(result.get("fail_reason") or "the trial failed")
        if not result.get("final"):
            reported = int(result.get("training_iteration", 0))
            if reported > self._last_seen.get(
                trial_id, 0
            ):  # the scheduler stopped it on this result
                return TrialState.PRUNED, None, None
            return TrialState.FAIL, None, STOPPED
        values = self._values(result)
        if values is None:
            return TrialState.FAIL, None, "the final result has no finite objective value(s)"
        return TrialState.COMPLETE, values, None

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        self._completed_trials.add(trial_id)
        ot_trial = self._ot_trials[trial_id]
        study = self._ot_study
        assert study is not None
        state, values, reason = self._decide(trial_id, result, error)
        if self._beats is not None:
            with contextlib.suppress(Exception):  # a busy database: beating on is harmless
                self._beats.discard(self._trial_id(ot_trial.number))
        try:
            if reason is not None and not self._stored_attrs(ot_trial.number).get("fail_reason"):
                ot_trial.set_user_attr("fail_reason", reason)
            if reason == STOPPED and ot_trial.params:
                self._ot_study.enqueue_trial(
                    ot_trial.params, user_attrs={"retry_of": ot_trial.number}
                )
                ot_trial.set_user_attr("requeued", True)
            if state == TrialState.COMPLETE:
                if self._latency is not None:  # a hard constraint, stored before the tell
                    self._latency.constrain(ot_trial, result or {})
                study.tell(ot_trial, values)
            else:
                study.tell(ot_trial, state=state)
        except Exception as exc:  # e.g. the trial was marked stale by another process meanwhile
            logger.warning("could not record trial %s: %s", ot_trial.number, exc)
            return
        if self._on_told is not None:
            told = {**self._configs.get(trial_id, {}), **(result or {})}
            bound = self._latency
            if bound is not None and state == TrialState.COMPLETE and bound.violation(told) > 0:
                told["infeasible"] = bound.reason(told)
            self._on_told(ot_trial.number, state, values, told)

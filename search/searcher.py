"""``StudySearcher``: Ray's ``OptunaSearch`` told the truth about how each trial ended.

Ray's ``OptunaSearch`` stores a trial that a Tune scheduler stopped early as COMPLETE with its
last (partial) value, and a trial whose function caught its own error as COMPLETE too. This
subclass (a) passes the Optuna trial number to the trainable (``config["_trial_number"]``) and
records the sampled ratios as user attributes at once, (b) tells a trial that ended before its
``final`` report as PRUNED, (c) tells a trial that failed (``failed`` in its last report, or a
Ray error) as FAIL with a one-line ``fail_reason``, and (d) tells a trial stopped by the end of
the search (Ctrl-C, a pending trial never run) as FAIL with a ``stopped:`` reason and enqueues
its parameters again, so a resumed study retries it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

__all__ = ["OBJECTIVE_KEYS", "STOPPED", "StudySearcher", "TrialOutcome"]

logger = logging.getLogger(__name__)

OBJECTIVE_KEYS = {"accuracy": "accuracy", "params": "params", "latency": "latency_ms"}
"""Study-file objective name -> the result / user-attribute key it reads."""

STOPPED = "stopped: the search ended before the trial finished"

SPACE_ATTRS = ("p_embd", "p_svd", "p_weight", "target_ratio", "predicted_ratio", "rejected_samples")

TrialOutcome = Callable[[int, TrialState, "list[float] | None", "dict[str, Any]"], None]
"""Called after each tell with (trial number, state, values, config)."""


class StudySearcher(OptunaSearch):
    """``OptunaSearch`` over a define-by-run space, with honest PRUNED / FAIL states.

    ``objectives`` are study-file names (``accuracy``, ``params``, ``latency``); ``on_told`` is
    called after each trial is told (progress lines). ``told`` holds the numbers told here.
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
        self._last_seen: dict[str, int] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self.asked: list[int] = []

    def save_to_dir(self, checkpoint_dir: str, session_str: str = "default") -> None:
        """Nothing to save: the study database is the checkpoint (resume goes through it)."""

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        config = super().suggest(trial_id)
        if config is None:
            return None
        ot_trial = self._ot_trials[trial_id]
        for key in SPACE_ATTRS:
            if config.get(key) is not None:
                ot_trial.set_user_attr(key, config[key])
        config["_trial_number"] = ot_trial.number
        self._configs[trial_id] = config
        self.asked.append(ot_trial.number)
        return config

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
        try:
            if reason is not None and not self._stored_attrs(ot_trial.number).get("fail_reason"):
                ot_trial.set_user_attr("fail_reason", reason)
            if reason == STOPPED and ot_trial.params:
                self._ot_study.enqueue_trial(
                    ot_trial.params, user_attrs={"retry_of": ot_trial.number}
                )
                ot_trial.set_user_attr("requeued", True)
            if state == TrialState.COMPLETE:
                study.tell(ot_trial, values)
            else:
                study.tell(ot_trial, state=state)
        except Exception as exc:  # e.g. the trial was marked stale by another process meanwhile
            logger.warning("could not record trial %s: %s", ot_trial.number, exc)
            return
        if self._on_told is not None:
            self._on_told(
                ot_trial.number,
                state,
                values,
                {**self._configs.get(trial_id, {}), **(result or {})},
            )

"""Early stopping that works in Pareto mode: MOASHA rungs recorded in the study database.

Study file::

    early_stopping:
      method: moasha          # or "record": the rung and its multiples measured, none stopped
      rung: 10                # the global distillation step where trials are ranked
      reduction_factor: 3     # about 1 in 3 continues past the rung
      min_trials: 2           # trials at the rung before any is stopped (the first always goes on)
      ranking: eps_net        # or "front": only trials on a dominated front can be stopped
      metric: accuracy        # or "nll": rank by dev negative log-likelihood (never tied)

At step ``rung`` (counted over all iterations: iteration ``k`` of ``steps`` steps covers steps
``(k-1)*steps+1 .. k*steps``) a trial scores dev and stores a **rung record** as its own user
attribute ``rung`` (``{"step", "accuracy", "nll", "size"}``). It then reads the rung records of every
trial of the study (any state, any worker, any earlier run of the study: the database is the
shared rung, so many Ray workers and many ``ladasearch search`` processes rank against the same
records) and applies MOASHA's rule (:func:`~ladasearch.search.pareto_rank.promote`) to
(dev accuracy up, size down): the rung's trials in one order, front by front and within a front
by an epsilon-net (``ranking: eps_net``, Syne Tune's MOASHA), the trial going on when it is in
the top ``1 / reduction_factor``; ``ranking: front`` only stops trials on a dominated front. ``size`` is the ratio the trial's ratios predict (eq. 7; the
sampled target when no prediction is known): the size a trial will end at is known when it
starts, and its latency is measured only at the end, so a latency objective is ranked by size
too. ``metric: nll`` ranks by the dev negative log-likelihood of the gold labels instead of
dev accuracy (lower is better): early in training many students still predict the majority
class for every example, tied in accuracy, while their likelihoods already differ. A trial that loses stops at once (:class:`RungStopped`); the searcher stores it PRUNED with
its last values (``rung``, ``last_values``, ``pruned_at_step``), never on the front.

A rung on an iteration boundary (a multiple of ``trial.steps``) reuses that iteration's dev
pass (``metric: accuracy``); any other rung costs one dev pass. Where to put the rung: where its ranking predicts the
final one. ``python -m ladasearch.search.rung_report STUDY --storage URL`` prints the Spearman
correlation between rung and final dev accuracy over the study's COMPLETE trials, and for every
step of the dev curve a ``method: record`` study measures (the rung and each multiple of it
before the end, user attribute ``rung_curve``): place the rung at the earliest step whose rho is
at least 0.6.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ladasearch.errors import StudyFileError
from ladasearch.search.pareto_rank import RANKINGS, promote

__all__ = [
    "METHODS",
    "METRICS",
    "EarlyStopping",
    "RungGate",
    "RungStopped",
    "parse_early_stopping",
    "rung_points",
    "with_early_stopping",
]

METHODS = ("moasha", "record")
METRICS = ("accuracy", "nll")
RUNG_ATTR = "rung"
CURVE_ATTR = "rung_curve"
CURVE_NLL_ATTR = "rung_curve_nll"


@dataclass(frozen=True)
class EarlyStopping:
    """A study's early-stopping settings (``early_stopping:`` in the study file)."""

    method: str = "moasha"
    rung: int = 1
    reduction_factor: float = 3.0
    min_trials: int = 2
    ranking: str = "eps_net"
    metric: str = "accuracy"

    @property
    def stops(self) -> bool:
        """Whether losing trials are stopped (``record`` only measures the rung)."""
        return self.method == "moasha"

    def iteration_of(self, steps: int) -> int | None:
        """The iteration whose end is the rung (its dev pass is reused), or None (mid-iteration,
        or ``metric: nll``, which the iteration's dev pass does not score)."""
        if self.metric != "accuracy":
            return None
        return self.rung // steps if steps > 0 and self.rung % steps == 0 else None


class RungStopped(Exception):
    """Raised inside a trial that lost at its rung: the trial ends here, stored PRUNED."""

    def __init__(self, step: int, accuracy: float, size: float) -> None:
        super().__init__(f"stopped at its rung (step {step}): dev accuracy {accuracy:.4f}")
        self.step = step
        self.accuracy = accuracy
        self.size = size


def parse_early_stopping(
    data: Mapping[str, Any],
    fail: Callable[[str, str], StudyFileError],
    *,
    total_steps: int,
) -> EarlyStopping | None:
    """``early_stopping`` of a study file's mapping (None when absent or ``none``).

    Accepts ``early_stopping: moasha`` (the defaults; the rung at a quarter of the trial's
    steps) or a mapping of ``method``, ``rung``, ``reduction_factor``, ``min_trials``,
    ``ranking``, ``metric``. ``total_steps`` is ``trial.iterations * trial.steps``.
    """
    raw = data.get("early_stopping")
    if raw is None or raw == "none":
        return None
    if isinstance(raw, str):
        raw = {"method": raw}
    if not isinstance(raw, Mapping):
        raise fail("early_stopping", f"must be moasha, record, none or a mapping, got {raw!r}")
    keys = ("method", "rung", "reduction_factor", "min_trials", "ranking", "metric")
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise fail(
            f"early_stopping.{unknown[0]}", f"is not a key of early_stopping ({', '.join(keys)})"
        )
    method = raw.get("method", "moasha")
    if method not in METHODS:
        raise fail("early_stopping.method", f"must be one of moasha, record, got {method!r}")
    rung = raw.get("rung", max(1, total_steps // 4))
    if isinstance(rung, bool) or not isinstance(rung, int) or not 1 <= rung < total_steps:
        raise fail(
            "early_stopping.rung",
            f"must be a distillation step in [1, {total_steps - 1}] (trial.iterations x "
            f"trial.steps = {total_steps}), got {rung!r}",
        )
    factor = raw.get("reduction_factor", 3)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 1:
        raise fail("early_stopping.reduction_factor", f"must be a number > 1, got {factor!r}")
    least = raw.get("min_trials", 2)
    if isinstance(least, bool) or not isinstance(least, int) or least < 1:
        raise fail("early_stopping.min_trials", f"must be a positive integer, got {least!r}")
    ranking = raw.get("ranking", "eps_net")
    if ranking not in RANKINGS:
        raise fail(
            "early_stopping.ranking", f"must be one of {', '.join(RANKINGS)}, got {ranking!r}"
        )
    metric = raw.get("metric", "accuracy")
    if metric not in METRICS:
        raise fail("early_stopping.metric", f"must be one of {', '.join(METRICS)}, got {metric!r}")
    return EarlyStopping(
        str(method), int(rung), float(factor), int(least), str(ranking), str(metric)
    )


def with_early_stopping(
    study: Any, data: Mapping[str, Any], fail: Callable[[str, str], StudyFileError]
) -> Any:
    """The parsed ``StudyFile`` with its ``early_stopping`` (replacing fixed mode's default ASHA,
    never an explicit ``scheduler: asha``); also refuses ``trial.measure_latency: false`` with a
    latency objective or bound (the last checks of a study file that look across sections)."""
    import dataclasses

    if not study.trial.measure_latency and ("latency" in study.objectives or study.latency):
        raise fail("trial.measure_latency", "false leaves the latency objective unmeasured")
    total = study.trial.iterations * study.trial.steps
    stopping = parse_early_stopping(data, fail, total_steps=total)
    if stopping is None:
        return study
    if study.scheduler == "asha":
        if "scheduler" in data:
            raise fail("early_stopping", "and scheduler: asha exclude each other")
        study = dataclasses.replace(study, scheduler="none")
    return dataclasses.replace(study, early_stopping=stopping)


def rung_score(scores: Mapping[str, Any], metric: str = "accuracy") -> float | None:
    """The minimised rung score of dev ``scores``: ``-accuracy``, or ``nll``; None when absent."""
    value = scores.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return -float(value) if metric == "accuracy" else float(value)


def rung_points(
    attrs_of_trials: Sequence[Mapping[str, Any]],
    step: int,
    exclude: int | None = None,
    metric: str = "accuracy",
) -> list[tuple[float, float]]:
    """(score, size) of every rung record at ``step`` (both minimised; the score is
    :func:`rung_score`), ``exclude`` left out.

    ``attrs_of_trials`` holds each trial's user attributes plus ``_number``.
    """
    points = []
    for attrs in attrs_of_trials:
        record = attrs.get(RUNG_ATTR)
        if attrs.get("_number") == exclude or not isinstance(record, Mapping):
            continue
        if record.get("step") != step:
            continue
        score, size = rung_score(record, metric), record.get("size")
        if score is None or isinstance(size, bool) or not isinstance(size, (int, float)):
            continue
        if math.isfinite(size):
            points.append((score, float(size)))
    return points


class RungGate:
    """One trial's rung: store its record, rank it against the study's, stop it if it loses.

    ``storage`` is the worker's Optuna storage; ``size`` the trial's predicted ratio.
    """

    def __init__(
        self,
        settings: EarlyStopping,
        storage: Any,
        study_name: str,
        number: int,
        size: float,
        set_attr: Callable[[str, Any], None],
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.study_name = study_name
        self.number = number
        self.size = float(size)
        self.set_attr = set_attr
        self.passed = False
        self.curve: dict[str, float] = {}
        self.curve_nll: dict[str, float] = {}

    def _recorded(self) -> list[tuple[float, float]]:
        study_id = self.storage.get_study_id_from_name(self.study_name)
        trials = self.storage.get_all_trials(study_id, deepcopy=False)
        attrs = [{**t.user_attrs, "_number": t.number} for t in trials]
        return rung_points(attrs, self.settings.rung, self.number, self.settings.metric)

    def observe(self, step: int, scores: Mapping[str, float]) -> None:
        """Add a point of the trial's dev curves (``method: record``): user attributes
        ``rung_curve`` (accuracy) and ``rung_curve_nll`` (when ``scores`` has ``nll``).

        ``rung_report`` ranks each step of a curve against the final accuracy, to place the rung.
        """
        self.curve[str(step)] = float(scores["accuracy"])
        self.set_attr(CURVE_ATTR, dict(self.curve))
        if "nll" in scores:
            self.curve_nll[str(step)] = float(scores["nll"])
            self.set_attr(CURVE_NLL_ATTR, dict(self.curve_nll))

    def check(self, step: int, scores: Mapping[str, float]) -> None:
        """At ``step == rung``: record, rank, and raise :class:`RungStopped` if the trial loses.

        ``scores`` holds the dev ``accuracy`` and, for ``metric: nll``, the dev ``nll``.
        """
        if self.passed or step != self.settings.rung:
            return
        self.passed = True
        s = self.settings
        score = rung_score(scores, s.metric)
        if score is None:
            raise ValueError(f"the rung ranks by {s.metric}, which the dev pass did not score")
        recorded = self._recorded()  # before writing ours: the records of the others
        accuracy = float(scores["accuracy"])
        record = {"step": step, "accuracy": accuracy, "size": self.size}
        if "nll" in scores:
            record["nll"] = float(scores["nll"])
        self.set_attr(RUNG_ATTR, record)
        keep = promote((score, self.size), recorded, s.reduction_factor, s.min_trials, s.ranking)
        self.set_attr("rung_decision", "continue" if keep or not s.stops else "stop")
        if s.stops and not keep:
            raise RungStopped(step, accuracy, self.size)

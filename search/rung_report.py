"""Does the rung's ranking predict the final one? Spearman's rho of rung vs final dev accuracy.

``python -m ladasearch.search.rung_report STUDY [--storage URL] [--json]`` reads the study's
COMPLETE trials that stored a rung record (``early_stopping`` with ``method: record`` measures
the rung on every trial and stops none; under ``moasha`` only the trials that went on count,
a selected sample) and prints n, the rung's step and Spearman's rho between the dev accuracy at
the rung and the final dev accuracy. Below :data:`GOOD_RHO` (0.6) the rung ranks trials unlike
their end: move it later (``early_stopping.rung``). When the study stopped trials, the rho is
over the rung's survivors, whose range the rung cut, and is no verdict on the rung.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ladasearch.search.rung_replay import CURVES, SAFE_KEPT, earliest_safe_step

__all__ = [
    "GOOD_RHO",
    "RungReport",
    "curve_report",
    "earliest_good_step",
    "front_replays",
    "main",
    "rung_report",
    "spearman",
]

GOOD_RHO = 0.6


def _average_ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):  # ties share the mean of their ranks
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get average ranks); NaN below 3 pairs or no spread."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    if len(xs) < 3:
        return math.nan
    rx, ry = _average_ranks(xs), _average_ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return math.nan
    return cov / math.sqrt(vx * vy)


@dataclass(frozen=True)
class RungReport:
    """Rung vs final dev accuracy over a study's COMPLETE trials."""

    study: str
    rung_step: int | None
    n: int
    spearman: float
    pairs: tuple[tuple[int, float, float], ...]  # (trial number, rung accuracy, final accuracy)
    stopped: int = 0  # trials the rung stopped: > 0 means the pairs are its survivors only

    @property
    def verdict(self) -> str:
        """``ok`` (rho >= 0.6), ``move the rung later``, ``too few trials`` or ``no spread``;
        when the rung stopped trials, a low rho is not a verdict on the rung: the survivors
        lack the low end of the range, which lowers any correlation."""
        if self.n < 3:
            return "too few trials"
        if math.isnan(self.spearman):
            return "no spread in accuracy"
        if self.spearman >= GOOD_RHO:
            return "ok" if not self.stopped else "ok (over the rung's survivors)"
        if self.stopped:
            return (
                f"low, but over the rung's survivors only ({self.stopped} stopped): "
                "place the rung with a 'record' study"
            )
        return "move the rung later"

    def line(self) -> str:
        """One line for people."""
        rho = "n/a" if math.isnan(self.spearman) else f"{self.spearman:.3f}"
        return (
            f"{self.study}: rung at step {self.rung_step}, {self.n} complete trials, "
            f"Spearman rho(rung, final dev accuracy) = {rho}: {self.verdict}"
        )


def rung_report(trials: Sequence[Any], study: str = "") -> RungReport:
    """The report over Optuna ``FrozenTrial`` s (COMPLETE ones with a rung record count)."""
    pairs = []
    steps = set()
    for trial in trials:
        attrs = trial.user_attrs
        record, final = attrs.get("rung"), attrs.get("accuracy")
        if trial.state.name != "COMPLETE" or not isinstance(record, dict):
            continue
        if not isinstance(final, (int, float)) or not isinstance(
            record.get("accuracy"), (int, float)
        ):
            continue
        steps.add(record.get("step"))
        pairs.append((trial.number, float(record["accuracy"]), float(final)))
    rho = spearman([p[1] for p in pairs], [p[2] for p in pairs])
    step = next(iter(steps)) if len(steps) == 1 else None
    stopped = sum(  # stopped at the rung: PRUNED with a rung record
        1 for t in trials if t.state.name == "PRUNED" and isinstance(t.user_attrs.get("rung"), dict)
    )
    return RungReport(study, step, len(pairs), rho, tuple(pairs), stopped)


CURVE_ATTRS = CURVES


def curve_report(trials: Sequence[Any], metric: str = "accuracy") -> dict[int, tuple[int, float]]:
    """Step -> (n, Spearman rho vs final dev accuracy) over the dev curves of ``method: record``
    studies (``rung_curve``; ``metric="nll"``: ``rung_curve_nll``, negated so that a positive rho
    means the lower likelihood loss ends more accurate), COMPLETE trials only."""
    by_step: dict[int, list[tuple[float, float]]] = {}
    sign = -1.0 if metric == "nll" else 1.0
    for trial in trials:
        curve = trial.user_attrs.get(CURVE_ATTRS[metric])
        final = trial.user_attrs.get("accuracy")
        if trial.state.name != "COMPLETE" or not isinstance(curve, dict):
            continue
        if not isinstance(final, (int, float)):
            continue
        for step, accuracy in curve.items():
            by_step.setdefault(int(step), []).append((sign * float(accuracy), float(final)))
    return {
        step: (len(pairs), spearman([p[0] for p in pairs], [p[1] for p in pairs]))
        for step, pairs in sorted(by_step.items())
    }


def earliest_good_step(curve: dict[int, tuple[int, float]]) -> int | None:
    """The earliest step whose rho is at least :data:`GOOD_RHO` (None: no such step)."""
    for step, (n, rho) in sorted(curve.items()):
        if n >= 3 and not math.isnan(rho) and rho >= GOOD_RHO:
            return step
    return None


def front_replays(
    trials: Sequence[Any], study_attrs: dict[str, Any], reduction_factor: float | None = None
) -> dict[str, list[Any]]:
    """Metric -> MOASHA replayed at every step of a record study's dev curves
    (:func:`~ladasearch.search.rung_replay.replay_rung`), with the study's own early-stopping
    settings from its user attributes ``study_attrs`` (``reduction_factor`` overrides its
    factor); empty when the study has no curves."""
    from ladasearch.search.rung_replay import front_reference, replay_rung, replay_steps

    settings = study_attrs.get("settings") or {}
    trial = settings.get("trial") or {}
    stopping = settings.get("early_stopping") or {}
    total = int(trial.get("iterations", 1)) * int(trial.get("steps", 0))
    factor = float(stopping.get("reduction_factor", 3.0))
    if reduction_factor is not None:
        factor = reduction_factor
    majority = study_attrs.get("majority_accuracy")
    reference = front_reference(trials, majority if isinstance(majority, float) else None)
    return {
        metric: [
            replay_rung(
                trials,
                step,
                factor,
                total,
                reference,
                int(stopping.get("min_trials", 2)),
                str(stopping.get("ranking", "eps_net")),
                metric,
            )
            for step in steps
        ]
        for metric in ("accuracy", "nll")
        if (steps := replay_steps(trials, metric)) and total > 0
    }


def main(argv: list[str] | None = None) -> int:
    """The command line: one line (or ``--json``: one JSON object) per study named."""
    parser = argparse.ArgumentParser(prog="python -m ladasearch.search.rung_report")
    parser.add_argument("studies", nargs="+", help="study names")
    parser.add_argument("--storage", default=None, help="study database URL")
    parser.add_argument("--json", action="store_true", help="one JSON object per study")
    parser.add_argument(
        "--reduction-factor",
        type=float,
        default=None,
        help="replay MOASHA at this reduction factor (default: the study's early_stopping one, "
        "else 3)",
    )
    args = parser.parse_args(argv)
    if args.reduction_factor is not None and not args.reduction_factor > 1:
        parser.error(f"--reduction-factor must be > 1, got {args.reduction_factor:g}")
    import optuna

    from ladasearch.errors import LadaError
    from ladasearch.search.studydb.connect import open_storage

    try:
        storage = open_storage(args.storage, existing=True)
        for name in args.studies:
            try:
                study = optuna.load_study(study_name=name, storage=storage)
            except KeyError as exc:
                raise LadaError(f"no study named {name!r} in the database") from exc
            trials = study.get_trials(deepcopy=False)  # read once: every report below uses them
            report = rung_report(trials, name)
            curve = curve_report(trials)
            curve_nll = curve_report(trials, "nll")
            replays = front_replays(trials, study.user_attrs, args.reduction_factor)
            if args.json:
                data = asdict(report)
                data["spearman"] = None if math.isnan(report.spearman) else report.spearman
                data["verdict"] = report.verdict
                data["curve"] = {
                    str(k): {"n": n, "spearman": None if math.isnan(r) else r}
                    for k, (n, r) in curve.items()
                }
                data["earliest_good_step"] = earliest_good_step(curve)
                data["curve_nll"] = {
                    str(k): {"n": n, "spearman": None if math.isnan(r) else r}
                    for k, (n, r) in curve_nll.items()
                }
                data["earliest_good_step_nll"] = earliest_good_step(curve_nll)
                data["replays"] = {
                    metric: [
                        {"step": r.step, "reduction_factor": r.reduction_factor,
                         "pruned": list(r.pruned), "saved": r.saved, "kept": r.kept}
                        for r in found
                    ]
                    for metric, found in replays.items()
                }  # fmt: skip
                data["earliest_safe_step"] = {
                    metric: earliest_safe_step(found) for metric, found in replays.items()
                }
                print(json.dumps(data))
            else:
                print(report.line())
                for step, (n, rho) in curve.items():
                    shown = "n/a" if math.isnan(rho) else f"{rho:.3f}"
                    print(f"  dev curve at step {step}: {n} trials, rho = {shown}")
                if curve:
                    print(f"  earliest step with rho >= {GOOD_RHO}: {earliest_good_step(curve)}")
                for step, (n, rho) in curve_nll.items():
                    shown = "n/a" if math.isnan(rho) else f"{rho:.3f}"
                    print(f"  dev nll curve at step {step}: {n} trials, rho(-nll) = {shown}")
                if curve_nll:
                    good = earliest_good_step(curve_nll)
                    print(f"  earliest step with rho(-nll) >= {GOOD_RHO} (metric: nll): {good}")
                for metric, found in replays.items():
                    for replay in found:
                        print(f"  {replay.line()}")
                    safe = earliest_safe_step(found)
                    print(
                        f"  earliest step whose replay keeps >= {100 * SAFE_KEPT:.0f}% of the "
                        f"front (metric: {metric}): {safe}"
                    )
    except LadaError as exc:
        print(f"rung_report: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

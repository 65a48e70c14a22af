"""How far a Pareto study's front moves when the same points are trained again: the noise floor
of "the front's hypervolume within x% of the study without early stopping".

    PYTHONPATH=. OMP_NUM_THREADS=1 python -m benchmarks.front_noise RECORD_OUTPUT --seed 1 --folder F

``RECORD_OUTPUT`` is the output of a ``benchmarks.early_stopping`` record study: its last line
holds the study's settings and every trial's parameters, dev accuracy and measured ratio. The
same points are enqueued, in the same order, in a new Pareto study (no early stopping, no rung
evaluations) whose students train with ``--seed`` (data order, dropout) and the record study's
teacher (its seed pinned to the record study's seed, so the cached teacher is reused). Nothing
but the students' seed differs.

Printed: each trial's dev accuracy in both runs, the paired differences (mean, standard
deviation, largest), the front of each run, and the hypervolume of the replicate's front as a
percentage of the record study's, with the record study's reference point. A MOASHA run whose
hypervolume ratio lies inside the spread of such replicates cannot be told from the study without
early stopping by this measure. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Replicate", "compare", "load_record", "main", "ratios_of", "replicate_data"]

PARAM_KEYS = ("target", "embd_position", "prune_share")


def load_record(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], tuple[float, float]]:
    """The settings, the COMPLETE trial rows (in trial order) and the hypervolume reference
    point ``(majority accuracy, largest ratio)`` of a record study's output."""
    lines = [line for line in path.read_text().splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"error: {path} holds no JSON line (not a benchmarks.early_stopping output)")
    data = json.loads(lines[-1])
    record = data.get("record")
    if not isinstance(record, dict) or not record.get("trials"):
        raise SystemExit(f"error: {path} holds no record study with its trials")
    rows = sorted(
        (row for row in record["trials"] if row.get("state") == "COMPLETE"),
        key=lambda row: int(row["number"]),
    )
    majority, high = record["reference"]
    return data["settings"], rows, (float(majority), float(high))


def ratios_of(rows: list[dict[str, Any]], space: Any) -> list[dict[str, float]]:
    """Each row's (target, embd_position, prune_share) as the ratio dict a study file enqueues,
    solved on ``space`` (a pareto :class:`~ladasearch.search.space.ConstrainedSpace`)."""
    points = []
    for row in rows:
        params = row["params"]
        missing = [key for key in PARAM_KEYS if key not in params]
        if missing:
            raise SystemExit(
                f"error: trial {row['number']} has no {', '.join(missing)} (not a pareto study "
                "over the constrained space)"
            )
        target = float(params["target"])
        low, high = space.sizes.p_embd_range(target)
        p_embd = low + float(params["embd_position"]) * (high - low)
        point = space.point_at(target, p_embd, float(params["prune_share"]))
        points.append({key: float(point[key]) for key in ("p_embd", "p_svd", "p_weight")})
    return points


def replicate_data(
    settings: dict[str, Any], folder: Path, ratios: list[dict[str, float]], seed: int
) -> dict[str, Any]:
    """The replicate's study file (a mapping): the record study's, with the points enqueued, the
    students seeded ``seed`` and the teacher's seed pinned to the record study's."""
    from benchmarks.early_stopping import study_data

    args = argparse.Namespace(**{**settings, "trials": len(ratios) or settings["trials"]})
    data = study_data(args, folder, "replicate", 1)
    del data["early_stopping"]  # no rung evaluations: the trials train as in the record study
    data["name"] = f"{settings['name']}-replicate-seed{seed}"
    data["seed"] = seed
    data["sampler"] = "random"  # unused: every trial is enqueued
    data["teacher"] = {**data["teacher"], "seed": int(settings["seed"])}
    data["enqueue"] = ratios
    return data


@dataclass(frozen=True)
class Replicate:
    """The record study and its replicate, trial by trial."""

    record: list[tuple[float, float]]  # (dev accuracy, ratio) per trial, record study
    again: list[tuple[float, float]]  # the same, replicate
    reference: tuple[float, float]  # (majority accuracy, largest ratio)

    def hypervolumes(self) -> tuple[float, float]:
        from ladasearch.search.pareto_rank import hypervolume_2d

        ref = (-self.reference[0], self.reference[1])
        return (
            hypervolume_2d([(-a, r) for a, r in self.record], ref),
            hypervolume_2d([(-a, r) for a, r in self.again], ref),
        )

    def differences(self) -> list[float]:
        """Replicate minus record dev accuracy, per trial."""
        return [b[0] - a[0] for a, b in zip(self.record, self.again, strict=True)]


def compare(replicate: Replicate) -> dict[str, Any]:
    """The numbers of one replicate: paired differences and the hypervolume ratio."""
    diffs = replicate.differences()
    base, again = replicate.hypervolumes()
    return {
        "trials": len(diffs),
        "mean_difference": statistics.fmean(diffs),
        "sd_difference": statistics.stdev(diffs) if len(diffs) > 1 else 0.0,
        "largest_difference": max(diffs, key=abs),
        "hypervolume_record": base,
        "hypervolume_replicate": again,
        "hypervolume_ratio": again / base if base > 0 else math.nan,  # no front to keep
    }


def _measured(trials: list[Any]) -> list[tuple[float, float]]:
    out = []
    for trial in sorted(trials, key=lambda t: t.number):
        attrs = trial.user_attrs
        if trial.state.name != "COMPLETE":
            raise SystemExit(f"error: replicate trial {trial.number} is {trial.state.name}")
        out.append((float(attrs["accuracy"]), float(attrs["ratio"])))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.front_noise")
    parser.add_argument("record", type=Path, help="a benchmarks.early_stopping record output")
    parser.add_argument("--seed", type=int, default=1, help="the replicate students' seed")
    parser.add_argument("--folder", type=Path, required=True, help="work folder")
    parser.add_argument("--cache", default=None, help="teacher cache (default: the usual one)")
    args = parser.parse_args(argv)
    settings, rows, reference = load_record(args.record)
    if args.seed == int(settings["seed"]):
        parser.error(f"--seed {args.seed} is the record study's own seed: pick another")

    import optuna

    from ladasearch.compression.accounting import parameter_groups
    from ladasearch.models import load_classifier
    from ladasearch.search.orchestrator import run_study, task_spec
    from ladasearch.search.space import ConstrainedSpace, GroupSizes
    from ladasearch.search.study_file import parse_study
    from ladasearch.tasks import load_task

    args.folder.mkdir(parents=True, exist_ok=True)
    probe = parse_study(replicate_data(settings, args.folder, [], args.seed), source="probe")
    labels = load_task(task_spec(probe)).label_names
    net, _ = load_classifier(probe.model, labels)
    sizes = GroupSizes.of(parameter_groups(net))
    del net
    assert probe.target_range is not None
    space = ConstrainedSpace(sizes, target_range=probe.target_range)
    data = replicate_data(settings, args.folder, ratios_of(rows, space), args.seed)
    study = parse_study(data, source=f"{data['name']}.yaml")
    url = f"sqlite:///{args.folder / 'front_noise.db'}"
    started = time.perf_counter()
    run_study(study, storage=url, cache_dir=args.cache)
    wall = time.perf_counter() - started
    loaded = optuna.load_study(study_name=study.name, storage=url)
    trials = loaded.get_trials()
    drift = max(
        abs(float(t.params[key]) - float(row["params"][key]))
        for t, row in zip(sorted(trials, key=lambda t: t.number), rows, strict=True)
        for key in PARAM_KEYS
    )
    replicate = Replicate(
        record=[(float(r["accuracy"]), float(r["ratio"])) for r in rows],
        again=_measured(trials),
        reference=reference,
    )
    pairs = zip(replicate.record, replicate.again, strict=True)
    ratio_drift = max(abs(a[1] - b[1]) for a, b in pairs)
    numbers = compare(replicate)
    numbers.update(
        seed=args.seed,
        record_seed=settings["seed"],
        param_drift=drift,
        ratio_drift=ratio_drift,
        wall_s=wall,
    )
    print("| trial | ratio | dev acc, record | dev acc, replicate | difference |")
    print("| --- | --- | --- | --- | --- |")
    for row, (a, ratio), (b, _) in zip(rows, replicate.record, replicate.again, strict=True):
        print(
            f"| {row['number']} | {ratio:.4f} | {100 * a:.2f} | {100 * b:.2f} | "
            f"{100 * (b - a):+.2f} |"
        )
    print(
        f"\n{numbers['trials']} trials re-trained with seed {args.seed} (record seed "
        f"{settings['seed']}; largest drift of a parameter {drift:.1e}, of a measured ratio "
        f"{ratio_drift:.1e}), {wall:.0f} s. Dev accuracy "
        f"difference: mean {100 * numbers['mean_difference']:+.2f}, sd "
        f"{100 * numbers['sd_difference']:.2f}, largest {100 * numbers['largest_difference']:+.2f} "
        f"points (majority class {100 * reference[0]:.2f}). Front hypervolume: record "
        f"{numbers['hypervolume_record']:.5f}, replicate {numbers['hypervolume_replicate']:.5f}, "
        f"ratio {100 * numbers['hypervolume_ratio']:.1f}%"
    )
    print(json.dumps({k: None if v != v else v for k, v in numbers.items()}))  # NaN: null
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Study files: one YAML file per study, parsed with ``yaml.safe_load`` and validated key by key.

Every problem is a :class:`~ladasearch.errors.StudyFileError` naming the file, the key path and
the reason, e.g. ``studies/x.yaml: trial.steps must be a positive integer, got -3``. Nothing is
trained, loaded or connected to while a study file is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ladasearch.compression.ratios import RATIO_KEYS
from ladasearch.errors import LadaError, StudyFileError
from ladasearch.search.early_stopping import EarlyStopping, with_early_stopping
from ladasearch.search.latency_bound import LatencyBound, parse_latency_bound
from ladasearch.search.study_sections import (
    Resources,
    TeacherSettings,
    TrialSettings,
    flag,
    searched_factorizations,
    teacher_settings,
    trial_settings,
)
from ladasearch.search.study_yaml import DuplicateKey, Reader, UniqueKeyLoader
from ladasearch.units import parse_target

__all__ = [
    "MODES",
    "OBJECTIVES",
    "SAMPLERS",
    "SPACES",
    "StudyFile",
    "load_study_file",
    "parse_study",
]

MODES = ("fixed", "pareto")
SPACES = ("constrained", "independent", "rejection")
SAMPLERS = ("tpe", "random", "nsga2", "qmc", "gp")
SCHEDULERS = ("asha", "none")
OBJECTIVES = ("accuracy", "params", "latency")


@dataclass(frozen=True)
class StudyFile:
    """A validated study. ``target`` / ``target_range`` hold ratios P (``"5x"`` -> 0.2).

    ``enqueue`` is a list of ratio dicts (``p_embd``, ``p_svd``, ``p_weight``) or the string
    ``"paper_table2"``; ``source`` is the file the study came from and ``text`` its content.
    """

    name: str
    model: str = "minilm"
    task: str = "rt"
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str | None = None
    dev: str | None = None
    test: str | None = None  # a test file for csv:/jsonl: (default: a stratified 10% carve-out)
    mode: str = "fixed"
    target: float | None = None
    target_range: tuple[float, float] | None = None
    objectives: tuple[str, ...] = ("accuracy",)
    trials: int = 10
    space: str = "constrained"
    sampler: str = "tpe"
    startup_trials: int | None = None  # TPE's / GP's random start-up trials (None: Optuna's 10)
    scheduler: str = "asha"
    max_concurrent: int = 1
    seed: int = 0
    enqueue: tuple[dict[str, float], ...] | str = ()
    keep_models: bool = False
    runs_dir: str = "runs"
    trial: TrialSettings = field(default_factory=TrialSettings)
    teacher: TeacherSettings = field(default_factory=TeacherSettings)
    resources: Resources = field(default_factory=Resources)
    latency: LatencyBound | None = None  # target_latency_ms / latency_batch: a hard constraint
    factorizations: tuple[str, ...] = ()  # searched: trial.factorization as a list (else fixed)
    early_stopping: EarlyStopping | None = None  # MOASHA rungs (search/early_stopping.py)
    source: str = "<study>"
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the settings (stored on the study)."""
        data = dataclasses.asdict(self)
        data.pop("text")
        data["objectives"] = list(self.objectives)
        data["factorizations"] = list(self.factorizations)
        data["target_range"] = list(self.target_range) if self.target_range else None
        data["enqueue"] = self.enqueue if isinstance(self.enqueue, str) else list(self.enqueue)
        return data

    @property
    def directions(self) -> list[str]:
        """Optuna directions of ``objectives`` (accuracy up, params and latency down)."""
        return ["maximize" if name == "accuracy" else "minimize" for name in self.objectives]


def load_study_file(path: str | Path) -> StudyFile:
    """Read and validate a study file; raise :class:`StudyFileError` naming key and reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StudyFileError(f"{path}: cannot read the study file ({exc.strerror or exc})") from exc
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass
    except DuplicateKey as exc:
        raise StudyFileError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise StudyFileError(f"{path}: not valid YAML{where}: {problem}") from exc
    return parse_study(data, source=str(path), text=text)


TOP_KEYS = (
    "name", "model", "task", "text_column", "text_pair_column", "label_column", "dev", "test", "mode",
    "target", "target_range", "objectives", "trials", "space", "sampler", "scheduler",
    "startup_trials", "max_concurrent", "seed", "enqueue", "keep_models", "runs_dir", "trial",
    "teacher", "resources", "target_latency_ms", "latency_batch", "early_stopping",
)  # fmt: skip


def parse_study(data: Any, *, source: str = "<study>", text: str = "") -> StudyFile:
    """Validate the mapping a study file holds and return the :class:`StudyFile`."""
    if not isinstance(data, Mapping):
        raise StudyFileError(
            f"{source}: a study file must be a YAML mapping of keys, got {type(data).__name__}"
        )
    top = Reader(data, source)
    top.check_keys(TOP_KEYS)
    name = top.text("name", Path(source).stem if source != "<study>" else None)
    if name is None:
        raise top.fail("name", "is required")
    mode = top.choice("mode", "fixed", MODES)
    target, target_range = _targets(top, mode)
    space = top.choice("space", "constrained", SPACES)
    if space == "rejection" and mode != "fixed":
        raise top.fail(
            "space", "rejection needs mode: fixed (it rejects samples that miss the target)"
        )
    scheduler = top.choice("scheduler", "asha" if mode == "fixed" else "none", SCHEDULERS)
    if scheduler == "asha" and mode != "fixed":
        raise top.fail(
            "scheduler", "asha works on one objective: use mode: fixed or scheduler: none"
        )
    keep = flag(top, "keep_models")
    trial = top.section("trial", tuple(f.name for f in dataclasses.fields(TrialSettings)))
    teacher = top.section("teacher", tuple(f.name for f in dataclasses.fields(TeacherSettings)))
    resources = top.section("resources", ("cpu", "gpu"))
    study = StudyFile(
        name=str(name),
        model=str(top.text("model", "minilm")),
        task=str(top.text("task", "rt")),
        text_column=top.text("text_column", None),
        text_pair_column=top.text("text_pair_column", None),
        label_column=top.text("label_column", None),
        dev=top.text("dev", None),
        test=top.text("test", None),
        mode=mode,
        target=target,
        target_range=target_range,
        objectives=_objectives(top, mode),
        trials=top.integer("trials", 10),
        space=space,
        sampler=(sampler := top.choice("sampler", "tpe", SAMPLERS)),
        startup_trials=_startup_trials(top, sampler),
        scheduler=scheduler,
        max_concurrent=top.integer("max_concurrent", 1),
        seed=top.integer("seed", 0, minimum=0),
        enqueue=_enqueue(top, space),
        keep_models=keep,
        runs_dir=str(top.text("runs_dir", "runs")),
        trial=trial_settings(trial),
        teacher=teacher_settings(teacher),
        resources=Resources(
            cpu=resources.number("cpu", Resources.cpu),
            gpu=resources.number("gpu", Resources.gpu, allow_zero=True),
        ),
        latency=parse_latency_bound(data, top.fail),
        factorizations=searched_factorizations(trial),
        source=source,
        text=text,
    )
    return with_early_stopping(study, data, top.fail)


def _startup_trials(top: Reader, sampler: str) -> int | None:
    if top.data.get("startup_trials") is None:
        return None
    if sampler not in ("tpe", "gp"):
        raise top.fail("startup_trials", f"applies to sampler: tpe or gp only, not {sampler}")
    return top.integer("startup_trials", 10)


def _ratio(reader: Reader, key: str, value: Any) -> float:
    try:
        return parse_target(value, what=key)
    except LadaError as exc:
        raise reader.fail(
            key, f"must be a ratio in (0, 1] such as 0.2 or a factor such as 5x, got {value!r}"
        ) from exc


def _targets(top: Reader, mode: str) -> tuple[float | None, tuple[float, float] | None]:
    raw_target, raw_range = top.get("target"), top.get("target_range")
    if mode == "fixed":
        if raw_range is not None:
            raise top.fail("target_range", "is for mode: pareto; a fixed study takes target")
        if raw_target is None:
            raise top.fail("target", "is required in mode: fixed (e.g. target: 5x)")
        return _ratio(top, "target", raw_target), None
    if raw_target is not None:
        raise top.fail(
            "target", "is for mode: fixed; a pareto study takes target_range: [2.5x, 10x]"
        )
    if not isinstance(raw_range, list) or len(raw_range) != 2:
        raise top.fail(
            "target_range", f"must be a list of two ratios such as [2.5x, 10x], got {raw_range!r}"
        )
    first, second = (_ratio(top, "target_range", value) for value in raw_range)
    low, high = sorted((first, second))
    if high - low < 1e-6:
        raise top.fail("target_range", f"must span a range, got {raw_range!r} (empty)")
    times = [isinstance(v, str) and v.strip().lower().endswith("x") for v in raw_range]
    ascending = first > second if times[0] else first < second  # [2.5x, 10x] or [0.1, 0.4]
    if times[0] == times[1] and not ascending:  # written in one notation, low to high
        raise top.fail(
            "target_range",
            f"is reversed: write it low to high, e.g. [2.5x, 10x], got {raw_range!r}",
        )
    return None, (low, high)


def _objectives(top: Reader, mode: str) -> tuple[str, ...]:
    default = ["accuracy"] if mode == "fixed" else ["accuracy", "params"]
    value = top.get("objectives", default)
    if not isinstance(value, list) or not value or any(item not in OBJECTIVES for item in value):
        raise top.fail(
            "objectives", f"must be a list drawn from {', '.join(OBJECTIVES)}, got {value!r}"
        )
    if len(set(value)) != len(value) or value[0] != "accuracy":
        raise top.fail("objectives", f"must start with accuracy and not repeat, got {value!r}")
    if mode == "fixed" and value != ["accuracy"]:
        raise top.fail(
            "objectives", f"of a fixed-target study can only be [accuracy], got {value!r}"
        )
    if mode == "pareto" and "params" not in value:
        raise top.fail("objectives", f"of a pareto study must include params, got {value!r}")
    return tuple(value)


def _enqueue(top: Reader, space: str) -> tuple[dict[str, float], ...] | str:
    value = top.get("enqueue", [])
    if value in (None, []):
        return ()
    if space == "rejection":
        raise top.fail(
            "enqueue",
            "is not available with space: rejection (its samples are not Optuna parameters)",
        )
    if value in ("paper_table2", "balanced"):
        return str(value)
    if not isinstance(value, list):
        raise top.fail(
            "enqueue",
            f"must be paper_table2, balanced or a list of {{p_embd, p_svd, p_weight}}, got {value!r}",
        )
    points = []
    check: Callable[[Any], bool] = lambda x: (  # noqa: E731
        isinstance(x, (int, float)) and not isinstance(x, bool) and 0.0 < x <= 1.0
    )
    for index, point in enumerate(value):
        if not isinstance(point, Mapping) or set(point) != set(RATIO_KEYS):
            raise top.fail(
                f"enqueue[{index}]",
                f"must have exactly the keys p_embd, p_svd, p_weight, got {point!r}",
            )
        for key in RATIO_KEYS:
            if not check(point[key]):
                raise top.fail(
                    f"enqueue[{index}].{key}", f"must be a ratio in (0, 1], got {point[key]!r}"
                )
        points.append({key: float(point[key]) for key in RATIO_KEYS})
    return tuple(points)

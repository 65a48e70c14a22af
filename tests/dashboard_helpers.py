"""Build Optuna studies with ladasearch's metric user attributes directly: no training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

TEACHER_PARAMS = 22_713_216
TEACHER_ACCURACY = 0.80

DISTRIBUTIONS = {
    "p_embd": FloatDistribution(0.02, 1.0),
    "p_svd": FloatDistribution(0.05, 1.0),
    "p_weight": FloatDistribution(0.05, 1.0),
}


@dataclass
class FakeTrial:
    """One trial to add: dev accuracy, nonzero params and an Optuna state."""

    accuracy: float | None
    params: float | None
    state: TrialState = TrialState.COMPLETE
    latency_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def add_study(
    storage: str,
    name: str,
    trials: Sequence[FakeTrial],
    teacher_params: int = TEACHER_PARAMS,
    teacher_accuracy: float = TEACHER_ACCURACY,
    study_attrs: dict[str, Any] | None = None,
) -> optuna.Study:
    """Create study ``name`` in ``storage`` holding ``trials`` (ratios derived from the size)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    attrs: dict[str, Any] = {
        "mode": "target",
        "model": "minilm",
        "task": {"name": "rt"},
        "teacher_accuracy": teacher_accuracy,
        "teacher_test_accuracy": teacher_accuracy - 0.01,
        "teacher_params": teacher_params,
        "objectives": ["accuracy"],
    }
    attrs.update(study_attrs or {})
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    for i, fake in enumerate(trials):
        ratio = (fake.params or teacher_params / 4) / teacher_params
        params = {"p_embd": min(1.0, ratio + 0.01 * i), "p_svd": 0.5, "p_weight": 0.6}
        user_attrs: dict[str, Any] = dict(params)
        if fake.accuracy is not None:
            user_attrs["accuracy"] = fake.accuracy
            user_attrs["test_accuracy"] = fake.accuracy - 0.01
        if fake.params is not None:
            user_attrs.update(params=fake.params, ratio=ratio, target_ratio=round(ratio, 2))
        user_attrs["teacher_params"] = teacher_params
        if fake.latency_ms is not None:
            user_attrs["latency_ms"] = fake.latency_ms
        user_attrs.update(fake.extra)
        value = fake.accuracy if fake.state == TrialState.COMPLETE else None
        study.add_trial(
            optuna.trial.create_trial(
                state=fake.state,
                value=value,
                params=params,
                distributions=DISTRIBUTIONS,
                user_attrs=user_attrs,
            )
        )
    return study


# --- headless Chromium (Debian's chromium; flags from DATA.md) --------------------------------

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    """The Chromium binary (``$CHROMIUM`` first), or ``None``."""
    import os
    import shutil

    for name in (os.environ.get("CHROMIUM", ""), *CHROMIUM_NAMES):
        if name and (path := shutil.which(name)):
            return path
    return None


def dump_dom(url: str, profile: Path, *, offline: bool = False, budget_ms: int = 10_000) -> str:
    """The DOM after the page's scripts ran (``--dump-dom``), in a fresh profile folder."""
    import subprocess

    binary = find_chromium()
    assert binary is not None
    flags = [
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget_ms}",
        "--window-size=1600,1000",
    ]
    if offline:  # every host name fails to resolve: the page must need nothing from the network
        flags.append("--host-resolver-rules=MAP * ~NOTFOUND")
    done = subprocess.run(
        [binary, *flags, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class _PointCounter(HTMLParser):
    """Counts ``path.point`` elements inside each plotly trace group (``g.trace<uid>``)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.counts: dict[str, int] = {}
        self.order: list[str] = []  # trace groups in document (= figure data) order

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "path" and "point" in classes:
            owner = next((uid for uid in reversed(self.stack) if uid), None)
            if owner is not None:
                self.counts[owner] = self.counts.get(owner, 0) + 1
        if tag == "g":
            uid = next(
                (c[len("trace") :] for c in classes if c.startswith("trace") and c != "trace"), None
            )
            self.stack.append(uid if "trace" in classes else None)
            if uid is not None and "trace" in classes:
                self.order.append(uid)
                self.counts.setdefault(uid, 0)

    def handle_endtag(self, tag: str) -> None:
        if tag == "g" and self.stack:
            self.stack.pop()


def rendered_points(dom: str) -> dict[str, int]:
    """Rendered markers per trace uid (``s0-params-front`` ...) in a dumped DOM."""
    counter = _PointCounter()
    counter.feed(dom)
    return counter.counts


def rendered_points_in_order(dom: str) -> list[int]:
    """Rendered markers of each trace group, in document order (plotly draws data in order)."""
    counter = _PointCounter()
    counter.feed(dom)
    return [counter.counts[uid] for uid in counter.order]

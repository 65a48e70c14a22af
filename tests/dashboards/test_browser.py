"""The Pareto HTML in a real browser (headless Chromium): what a person sees, offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashboard_helpers import (
    TEACHER_PARAMS,
    FakeTrial,
    add_study,
    dump_dom,
    find_chromium,
    rendered_points,
)
from optuna.trial import TrialState

from ladasearch.cli import main

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="headless Chromium not found (apt-get install -y chromium, or set $CHROMIUM)",
    ),
]


def test_pareto_html_shows_one_point_per_finished_trial(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    factors = [2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 10.0]
    accuracies = [0.79, 0.78, 0.70, 0.77, 0.74, 0.69, 0.72, 0.66]
    trials = [FakeTrial(a, TEACHER_PARAMS / f) for a, f in zip(accuracies, factors, strict=True)]
    trials += [
        FakeTrial(0.6, TEACHER_PARAMS / 8, TrialState.PRUNED),
        FakeTrial(None, None, TrialState.FAIL),
        FakeTrial(None, None, TrialState.RUNNING),
    ]
    add_study(url, "browse-me", trials)
    html = tmp_path / "pareto.html"
    assert main(["plot", "browse-me", "--storage", url, "-o", str(html)]) == 0

    dom = dump_dom(html.as_uri(), tmp_path / "profile", offline=True)
    points = rendered_points(dom)
    finished = points.get("s0-params-front", 0) + points.get("s0-params-trials", 0)
    assert finished == 8  # the study's finished trials, each drawn once
    assert points["s0-params-front"] == 6  # all but 3x and 6x (dominated by 2.5x and 7.5x)
    assert points["s0-params-unfinished"] == 1  # the pruned trial, greyed
    assert points["s0-params-teacher"] == 1
    assert "s0-latencyms-front" not in points  # no latency measured: no second panel
    # the axis reads as compression factors, the legend says what the grey cross is
    assert ">5x<" in dom and ">10x<" in dom
    assert "pruned / failed (1, not on the front)" in dom
    assert "2 running or failed trial(s) without metrics left out" in dom

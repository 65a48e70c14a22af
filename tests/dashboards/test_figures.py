"""The Plotly figure and the ``plot`` command: traces from the front numbers, offline HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dashboard_helpers import TEACHER_PARAMS, FakeTrial, add_study
from optuna.trial import TrialState

from ladasearch.cli import main
from ladasearch.dashboards.figures import figure_for_studies, hover_text, write_html
from ladasearch.search.studydb.records import load_studies

TRIALS = [
    FakeTrial(0.70, TEACHER_PARAMS / 10, latency_ms=2.0),
    FakeTrial(0.76, TEACHER_PARAMS / 5, latency_ms=3.0),
    FakeTrial(0.72, TEACHER_PARAMS / 4, latency_ms=3.5),
    FakeTrial(0.79, TEACHER_PARAMS / 2.5, latency_ms=4.0),
    FakeTrial(0.65, TEACHER_PARAMS / 7.5, TrialState.PRUNED),
    FakeTrial(None, None, TrialState.FAIL),
]


@pytest.fixture
def storage(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    add_study(url, "alpha", TRIALS)
    add_study(url, "beta", TRIALS[:3], teacher_accuracy=0.81)
    return url


def traces_by_uid(figure: object) -> dict[str, object]:
    return {trace.uid: trace for trace in figure.data}  # type: ignore[attr-defined]


def test_figure_traces_follow_the_front(storage: str) -> None:
    figure = figure_for_studies(load_studies(["alpha"], storage))
    traces = traces_by_uid(figure)
    front, dominated = traces["s0-params-front"], traces["s0-params-trials"]
    assert front.mode == "lines+markers"
    assert sorted(front.x) == [TEACHER_PARAMS / 10, TEACHER_PARAMS / 5, TEACHER_PARAMS / 2.5]
    assert list(dominated.y) == [0.72]
    assert len(front.x) + len(dominated.x) == 4  # every finished trial drawn exactly once
    unfinished = traces["s0-params-unfinished"]
    assert "pruned / failed (1, not on the front)" in unfinished.name
    assert unfinished.marker.color == "#a0a0a0"
    teacher = traces["s0-params-teacher"]
    assert teacher.marker.symbol == "star" and list(teacher.x) == [TEACHER_PARAMS]
    # latency measured: a second panel with the same finished trials
    assert len(traces["s0-latencyms-front"].x) + len(traces["s0-latencyms-trials"].x) == 4
    assert "1 running or failed trial(s) without metrics left out" in figure.layout.title.text


def test_params_axis_reads_as_compression_factors(storage: str) -> None:
    figure = figure_for_studies(load_studies(["alpha"], storage))
    axis = figure.layout.xaxis
    assert axis.type == "log"
    labels = [text.split("<br>")[0] for text in axis.ticktext]
    assert {"2.5x", "5x", "10x", "teacher"} <= set(labels)
    for value, text in zip(axis.tickvals, labels, strict=True):
        factor = 1.0 if text == "teacher" else float(text.rstrip("x"))
        assert value == pytest.approx(TEACHER_PARAMS / factor)


def test_hover_text_has_number_ratios_and_metrics(storage: str) -> None:
    (study,) = load_studies(["alpha"], storage)
    text = hover_text(study.trials[1], study.teacher_params)
    assert "trial 1" in text
    assert "P_embd" in text and "P_svd 0.500" in text and "P_weight 0.600" in text
    assert "dev accuracy 0.7600" in text and "(5.0x" in text and "latency 3.0 ms" in text


def test_several_studies_one_chart(storage: str) -> None:
    figure = figure_for_studies(load_studies(["alpha", "beta"], storage))
    uids = set(traces_by_uid(figure))
    assert {"s0-params-front", "s1-params-front", "s0-params-teacher", "s1-params-teacher"} <= uids
    names = [trace.name for trace in figure.data if trace.showlegend]
    assert any(name.startswith("alpha: Pareto front") for name in names)
    assert any(name.startswith("beta: Pareto front") for name in names)


def test_html_is_self_contained(storage: str, tmp_path: Path) -> None:
    path = write_html(figure_for_studies(load_studies(["alpha"], storage)), tmp_path / "p.html")
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html)  # plotly.js inlined, nothing fetched
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.DOTALL)
    assert not re.search(r"https?://", markup)  # no remote stylesheet, font or image either
    assert "cdn.plot.ly/plotly" not in html
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # the bundle itself is inside


def test_plot_command_writes_html(
    storage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sub" / "pareto.html"
    assert main(["plot", "alpha", "beta", "--storage", storage, "-o", str(out)]) == 0
    assert out.is_file()
    printed = capsys.readouterr().out
    assert "alpha: 4 finished trials, 3 on the front, 2 pruned/failed" in printed
    assert str(out) in printed


def test_plot_command_missing_study_is_one_line(
    storage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", "gamma", "--storage", storage, "-o", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "ladasearch: error: no study named 'gamma' in the database (studies: alpha, beta)"
    assert not (tmp_path / "x.html").exists()


def test_plot_command_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["plot", "alpha", "--storage", url]) == 2
    assert "no study database at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()

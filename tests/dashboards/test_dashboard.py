"""``ladasearch dashboard``: our figure registered in the study, optuna-dashboard in a browser."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_helpers import (
    TEACHER_PARAMS,
    FakeTrial,
    add_study,
    dump_dom,
    find_chromium,
    rendered_points_in_order,
)
from optuna.trial import TrialState

from ladasearch.dashboards.figures import figure_for_studies
from ladasearch.dashboards.server import FIGURE_ID, register_figures
from ladasearch.search.studydb.connect import open_storage
from ladasearch.search.studydb.records import load_studies

REPO = Path(__file__).resolve().parents[2]
STUDY = "dashboard-study-7x"
TRIALS = [
    FakeTrial(0.70, TEACHER_PARAMS / 10, latency_ms=2.0),
    FakeTrial(0.76, TEACHER_PARAMS / 5, latency_ms=3.0),
    FakeTrial(0.72, TEACHER_PARAMS / 4, latency_ms=3.5),
    FakeTrial(0.60, TEACHER_PARAMS / 7.5, TrialState.PRUNED),
]


@pytest.fixture
def storage(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    add_study(url, STUDY, TRIALS)
    add_study(url, "empty-study", [FakeTrial(None, None, TrialState.FAIL)])
    return url


def test_register_figures_saves_our_figure_in_each_study(storage: str) -> None:
    from optuna_dashboard._custom_plot_data import get_plotly_graph_objects

    assert register_figures(open_storage(storage)) == [STUDY]  # nothing to draw in empty-study
    assert register_figures(open_storage(storage)) == [STUDY]  # again: overwritten, not added
    rdb = open_storage(storage)
    graphs = get_plotly_graph_objects(rdb.get_study_system_attrs(rdb.get_study_id_from_name(STUDY)))
    assert list(graphs) == [FIGURE_ID]
    data = json.loads(graphs[FIGURE_ID])["data"]
    front = [trace for trace in data if trace["name"].startswith("Pareto front")]
    assert len(front[0]["x"]) == 2  # 10x and 5x: 4x is dominated


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dashboard(storage: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = (tmp_path / "dashboard.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ladasearch",
            "dashboard",
            "--storage",
            storage,
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/studies", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    pytest.fail(
                        f"dashboard did not start: {(tmp_path / 'dashboard.log').read_text()}"
                    )
                time.sleep(0.3)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_dashboard_binds_localhost_and_prints_url(
    dashboard: tuple[str, subprocess.Popen[str]],
) -> None:
    base, process = dashboard
    with urllib.request.urlopen(f"{base}/api/studies", timeout=5) as response:
        names = {s["study_name"] for s in json.load(response)["study_summaries"]}
    assert names == {STUDY, "empty-study"}
    process.terminate()
    out, _ = process.communicate(timeout=20)
    assert f"{base}/dashboard/" in out
    assert f"Pareto figure registered in: {STUDY}" in out


def test_dashboard_default_host_is_loopback() -> None:
    from ladasearch.cli import build_parser

    args = build_parser().parse_args(["dashboard"])
    assert (args.host, args.port) == ("127.0.0.1", 8080)


@pytest.mark.browser
@pytest.mark.skipif(
    find_chromium() is None, reason="headless Chromium not found (apt-get install -y chromium)"
)
def test_dashboard_in_browser_lists_study_and_shows_our_figure(
    dashboard: tuple[str, subprocess.Popen[str]], storage: str, tmp_path: Path
) -> None:
    base, _ = dashboard
    listing = dump_dom(f"{base}/dashboard/", tmp_path / "profile-list")
    assert STUDY in listing and "empty-study" in listing

    study_id = open_storage(storage, existing=True).get_study_id_from_name(STUDY)
    page = dump_dom(f"{base}/dashboard/studies/{study_id}", tmp_path / "profile-study")
    marker = f'id="user-defined-plot:{FIGURE_ID}"'
    assert marker in page
    rendered = rendered_points_in_order(page[page.index(marker) :])
    figure = figure_for_studies(load_studies([STUDY], storage))
    expected = [len(trace.x) for trace in figure.data]
    assert rendered[: len(expected)] == expected
    kinds = [trace.uid.rsplit("-", 1)[1] for trace in figure.data if "params" in trace.uid]
    finished = sum(
        n for kind, n in zip(kinds, rendered, strict=False) if kind in ("front", "trials")
    )
    assert finished == 3  # the study's finished trials

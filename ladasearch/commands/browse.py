"""``ladasearch plot`` (offline Pareto HTML) and ``ladasearch dashboard`` (optuna-dashboard)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ladasearch.errors import LadaError

__all__ = ["register"]


def _add_storage_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="study database (default: $LADASEARCH_STORAGE, else sqlite:///ladasearch.db)",
    )


def register(subparsers: Any) -> None:
    """Add the ``plot`` and ``dashboard`` sub-commands."""
    plot = subparsers.add_parser(
        "plot",
        help="write the accuracy / size Pareto plot of one or more studies as offline HTML",
        description="Accuracy against nonzero parameters (and latency, when measured), the Pareto "
        "front highlighted, the teacher as a star; one self-contained HTML file (no CDN).",
    )
    plot.add_argument("studies", nargs="+", metavar="STUDY", help="study name(s)")
    _add_storage_argument(plot)
    plot.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("pareto.html"),
        help="HTML file (default: pareto.html)",
    )
    plot.add_argument("--title", default=None, help="figure title")
    plot.set_defaults(func=run_plot)

    dashboard = subparsers.add_parser(
        "dashboard",
        help="serve optuna-dashboard on the study database, with our Pareto figure in each study",
    )
    _add_storage_argument(dashboard)
    dashboard.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)"
    )
    dashboard.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    dashboard.add_argument(
        "--artifact-dir",
        type=Path,
        default=None,
        help="artifact folder (exported model cards); default: <database>.artifacts for SQLite",
    )
    dashboard.set_defaults(func=run_dashboard)


def run_plot(args: argparse.Namespace) -> int:
    """Load the studies, compute their fronts, write the HTML, say what it holds."""
    from ladasearch.dashboards.figures import pareto_figure, write_html
    from ladasearch.dashboards.front import compute_front
    from ladasearch.search.studydb.records import load_studies

    studies = load_studies(args.studies, args.storage)
    params_fronts = [compute_front(s, "params") for s in studies]
    latency_fronts = [compute_front(s, "latency_ms") for s in studies]
    finished = sum(len(f.points) for f in params_fronts)
    if finished == 0:
        names = ", ".join(args.studies)
        raise LadaError(f"no finished trial with accuracy and params in {names}: nothing to plot")
    figure = pareto_figure(params_fronts, latency_fronts, title=args.title)
    try:
        path = write_html(figure, args.output)
    except OSError as exc:
        raise LadaError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    for front in params_fronts:
        others = len(front.unfinished) + front.omitted
        print(
            f"{front.study}: {len(front.points)} finished trials, {len(front.front)} on the front"
            + (f", {others} pruned/failed" if others else "")
        )
    print(f"wrote {path} (offline HTML, open it in a browser)")
    return 0


def run_dashboard(args: argparse.Namespace) -> int:
    """Register our figure in every study, print the URL, serve until interrupted."""
    from ladasearch.dashboards.server import default_artifact_dir, register_figures, serve
    from ladasearch.search.studydb.connect import open_storage
    from ladasearch.search.studydb.urls import resolve_storage_url

    url = resolve_storage_url(args.storage)
    storage = open_storage(url, existing=True)
    registered = register_figures(storage)
    if registered:
        print(f"Pareto figure registered in: {', '.join(registered)}")
    artifact_dir = args.artifact_dir or default_artifact_dir(url)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: reachable from other machines", file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"optuna-dashboard for {url}: http://{host}:{args.port}/dashboard/ (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        serve(url, host=args.host, port=args.port, artifact_dir=artifact_dir)
    except OSError as exc:
        raise LadaError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    return 0

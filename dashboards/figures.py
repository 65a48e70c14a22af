"""Plotly figures drawn from :mod:`ladasearch.dashboards.front` numbers; offline HTML.

One figure: accuracy against nonzero parameters (and, when latency was measured, a second panel
against batch-1 latency), one colour per study, each study's Pareto front as a line with markers,
its other finished trials as faint markers, pruned / failed trials as grey crosses and trials
that violate a constraint (``target_latency_ms``) as grey open circles (named so in the legend,
never on the front), the teacher as a star. The parameter axis is logarithmic with ticks at
``teacher_params / k`` labelled "kx", as in the LadaBERT paper.

Every trace carries a ``uid`` (``s<i>-<axis>-<kind>``, kind in ``front``, ``trials``,
``unfinished``, ``infeasible``, ``teacher``), which plotly.js writes into the SVG class names:
the browser test counts the rendered points of each trace by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ladasearch.dashboards.front import Axis, ParetoFront, compression_ticks, compute_front
from ladasearch.search.studydb.records import StudyRecord, TrialRecord

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["figure_for_studies", "hover_text", "pareto_figure", "write_html"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
GREY = "#a0a0a0"
AXIS_TITLES = {
    "params": "nonzero parameters (compression vs. teacher)",
    "latency_ms": "latency, ms",
}


def _count(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def hover_text(trial: TrialRecord, teacher_params: float | None = None) -> str:
    """What a point says under the mouse: trial number, the three ratios and the metrics."""
    lines = [f"<b>trial {trial.number}</b> ({trial.study}, {trial.state.lower()})"]
    ratios = [
        f"{label} {value:.3f}"
        for label, key in (("P_embd", "p_embd"), ("P_svd", "p_svd"), ("P_weight", "p_weight"))
        if (value := trial.ratio(key)) is not None
    ]
    if ratios:
        lines.append(" · ".join(ratios))
    accuracy, test = trial.accuracy, trial.metric("test_accuracy")
    if accuracy is not None:
        lines.append(
            f"dev accuracy {accuracy:.4f}" + (f" · test {test:.4f}" if test is not None else "")
        )
    params = trial.nonzero_params
    if params is not None:
        size = f"params {_count(params)}"
        if teacher_params:
            size += f" ({teacher_params / params:.1f}x, ratio {params / teacher_params:.3f})"
        lines.append(size)
    latency, latency32 = trial.latency_ms, trial.metric("latency_ms_b32")
    if latency is not None:
        lines.append(
            f"latency {latency:.1f} ms" + (f" · batch 32 {latency32:.1f} ms" if latency32 else "")
        )
    if trial.fail_reason:
        lines.append(f"failed: {trial.fail_reason[:120]}")
    elif trial.infeasible:
        reason = str(trial.user_attrs.get("infeasible") or "infeasible: violates a constraint")
        lines.append(reason[:120])
    return "<br>".join(lines)


def _label(study: str, many: bool, what: str) -> str:
    return f"{study}: {what}" if many else what


def _add_front_traces(
    fig: go.Figure,
    front: ParetoFront,
    index: int,
    many: bool,
    col: int,
    teacher_params: float | None,
) -> None:
    import plotly.graph_objects as go

    color = PALETTE[index % len(PALETTE)]
    first_panel = col == 1
    group = f"s{index}"
    uid = f"s{index}-{front.axis.replace('_', '')}"

    dominated = [front.points[i] for i in front.dominated]
    fig.add_trace(
        go.Scatter(
            x=[front.xs[i] for i in front.dominated],
            y=[front.accuracies[i] for i in front.dominated],
            mode="markers",
            marker={"color": color, "size": 8, "opacity": 0.45},
            name=_label(front.study, many, f"trials ({len(front.points)} finished)"),
            legendgroup=group + "-trials",
            showlegend=first_panel,
            text=[hover_text(t, teacher_params) for t in dominated],
            hoverinfo="text",
            uid=f"{uid}-trials",
        ),
        row=1,
        col=col,
    )
    on_front = front.front_trials
    fig.add_trace(
        go.Scatter(
            x=[front.xs[i] for i in front.front],
            y=[front.accuracies[i] for i in front.front],
            mode="lines+markers",
            line={"color": color, "width": 2, "shape": "hv"},
            marker={"color": color, "size": 11, "line": {"color": "white", "width": 1}},
            name=_label(front.study, many, f"Pareto front ({len(on_front)})"),
            legendgroup=group + "-front",
            showlegend=first_panel,
            text=[hover_text(t, teacher_params) for t in on_front],
            hoverinfo="text",
            uid=f"{uid}-front",
        ),
        row=1,
        col=col,
    )
    infeasible = [t for t in front.unfinished if t.infeasible]
    others = [t for t in front.unfinished if not t.infeasible]
    for trials, kind, what, symbol in (
        (others, "unfinished", "pruned / failed", "x"),
        (infeasible, "infeasible", "infeasible", "circle-open"),
    ):
        if not trials:
            continue
        fig.add_trace(
            go.Scatter(
                x=[(t.nonzero_params if front.axis == "params" else t.latency_ms) for t in trials],
                y=[t.accuracy for t in trials],
                mode="markers",
                marker={"color": GREY, "size": 9, "symbol": symbol, "opacity": 0.8},
                name=_label(front.study, many, f"{what} ({len(trials)}, not on the front)"),
                legendgroup=f"{group}-{kind}",
                showlegend=first_panel,
                text=[hover_text(t, teacher_params) for t in trials],
                hoverinfo="text",
                uid=f"{uid}-{kind}",
            ),
            row=1,
            col=col,
        )
    if front.teacher is not None:
        teacher_hover = (
            f"<b>teacher</b> ({front.study})<br>dev accuracy {front.teacher.accuracy:.4f}"
        )
        teacher_hover += (
            f"<br>params {_count(front.teacher.x)}"
            if front.axis == "params"
            else f"<br>latency {front.teacher.x:.1f} ms"
        )
        fig.add_trace(
            go.Scatter(
                x=[front.teacher.x],
                y=[front.teacher.accuracy],
                mode="markers",
                marker={
                    "color": color,
                    "size": 16,
                    "symbol": "star",
                    "line": {"color": "black", "width": 1},
                },
                name=_label(front.study, many, "teacher (uncompressed)"),
                legendgroup=group + "-teacher",
                showlegend=first_panel,
                text=[teacher_hover],
                hoverinfo="text",
                uid=f"{uid}-teacher",
            ),
            row=1,
            col=col,
        )


def _shared_teacher_params(fronts: Sequence[ParetoFront]) -> float | None:
    values = {round(f.teacher_params) for f in fronts if f.teacher_params}
    return float(values.pop()) if len(values) == 1 else None


def _params_axis(fig: go.Figure, fronts: Sequence[ParetoFront]) -> None:
    teacher_params = _shared_teacher_params(fronts)
    xs = [x for f in fronts for x in f.xs]
    xs += [t.nonzero_params or 0.0 for f in fronts for t in f.unfinished]
    xs += [f.teacher.x for f in fronts if f.teacher is not None]
    xs = [x for x in xs if x > 0]
    axis: dict[str, object] = {"title": {"text": AXIS_TITLES["params"]}, "type": "log"}
    if teacher_params and xs:
        ticks = compression_ticks(teacher_params, min(xs) / 1.3, max(xs) * 1.3)
        if ticks:
            axis["tickvals"] = [value for value, _ in ticks]
            axis["ticktext"] = [
                f"{'teacher' if factor == 1 else f'{factor:g}x'}<br>{_count(value)}"
                for value, factor in ticks
            ]
    fig.update_xaxes(row=1, col=1, **axis)


def pareto_figure(
    params_fronts: Sequence[ParetoFront],
    latency_fronts: Sequence[ParetoFront] = (),
    title: str | None = None,
) -> go.Figure:
    """Draw accuracy against nonzero params (and latency, when given) for several studies."""
    from plotly.subplots import make_subplots

    with_latency = any(f.points for f in latency_fronts)
    columns = 2 if with_latency else 1
    fig = make_subplots(
        rows=1,
        cols=columns,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=("accuracy vs. size", "accuracy vs. latency (batch 1)")[:columns],
    )
    many = len(params_fronts) > 1
    for index, front in enumerate(params_fronts):
        _add_front_traces(fig, front, index, many, 1, front.teacher_params)
    if with_latency:
        for index, front in enumerate(latency_fronts):
            _add_front_traces(fig, front, index, many, 2, front.teacher_params)
        fig.update_xaxes(row=1, col=2, title={"text": AXIS_TITLES["latency_ms"]})
    _params_axis(fig, params_fronts)
    omitted = sum(f.omitted for f in params_fronts)
    subtitle = (
        f"<br><sup>{omitted} running or failed trial(s) without metrics left out</sup>"
        if omitted
        else ""
    )
    names = ", ".join(f.study for f in params_fronts)
    fig.update_yaxes(title={"text": "dev accuracy"}, row=1, col=1)
    fig.update_layout(
        title={"text": (title or f"LadaBERT compression: {names}") + subtitle},
        template="plotly_white",
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
        height=560,
        margin={"t": 90, "b": 160},
    )
    return fig


def figure_for_studies(studies: Sequence[StudyRecord], title: str | None = None) -> go.Figure:
    """Compute the fronts of ``studies`` (size, and latency where measured) and draw them."""
    axes: tuple[Axis, Axis] = ("params", "latency_ms")
    params_fronts = [compute_front(s, axes[0]) for s in studies]
    latency_fronts = [compute_front(s, axes[1]) for s in studies]
    return pareto_figure(params_fronts, latency_fronts, title=title)


def write_html(fig: go.Figure, path: Path) -> Path:
    """Write one self-contained HTML file: plotly.js inlined, no CDN, works offline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(
        str(path),
        include_plotlyjs=True,
        full_html=True,
        config={"displaylogo": False, "responsive": True},
    )
    return path

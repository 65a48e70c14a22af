"""Browsing and exporting: Pareto fronts (numbers), Plotly figures, the Optuna dashboard, export.

Modules, each with one job:

- :mod:`ladasearch.dashboards.front`: the Pareto front as numbers (pure, no plotting);
- :mod:`ladasearch.dashboards.figures`: Plotly figures drawn from those numbers, offline HTML;
- :mod:`ladasearch.dashboards.server`: optuna-dashboard, our figure registered;
- :mod:`ladasearch.dashboards.export`: choose a trial, write configuration, model, card;
- :mod:`ladasearch.dashboards.demo`: the one-command demo (a small real search, plot, export).

Nothing is imported eagerly here, so ``import ladasearch.dashboards`` stays cheap.
"""

from __future__ import annotations

__all__: list[str] = []

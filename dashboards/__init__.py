"""Views of a study: Pareto fronts (numbers), Plotly figures, the Optuna dashboard.

Modules, each with one job:

- :mod:`ladasearch.dashboards.front`: the Pareto front as numbers (pure, no plotting);
- :mod:`ladasearch.dashboards.figures`: Plotly figures drawn from those numbers, offline HTML;
- :mod:`ladasearch.dashboards.server`: optuna-dashboard, our figure registered.

Export lives in :mod:`ladasearch.export`, the demo in :mod:`ladasearch.demo`.

Nothing is imported eagerly here, so ``import ladasearch.dashboards`` stays cheap.
"""

from __future__ import annotations

__all__: list[str] = []

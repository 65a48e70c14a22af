"""The data BENCHMARKS.md is written from: the collected :class:`Report`, numbered
:class:`Sources`, and the number formats every section shares."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from benchmarks.costs import CostResult
from benchmarks.curves import Curve
from benchmarks.efficiency import EfficiencyResult
from benchmarks.profiles import Profile
from benchmarks.quality import QualityRow

__all__ = ["ENGINE_CHANGED", "Report", "Source", "Sources", "pct", "ratio_text"]

Source = tuple[str, str, str]


@dataclass
class Sources:
    """Numbered provenance (command, machine, date) of the numbers of one part."""

    items: list[Source] = field(default_factory=list)

    def mark(self, source: Source) -> str:
        """``[n]`` for ``source`` (numbered on first use)."""
        if source not in self.items:
            self.items.append(source)
        return f"[{self.items.index(source) + 1}]"

    def lines(self) -> list[str]:
        """The source list in Markdown."""
        return [
            f"- [{i}] `{command}` on {machine}, {date}"
            for i, (command, machine, date) in enumerate(self.items, start=1)
        ]


@dataclass(frozen=True)
class Report:
    """Everything BENCHMARKS.md shows, as collected from the study database."""

    profile: Profile
    storage: str
    quality: list[QualityRow]
    curves: list[Curve]
    efficiency: EfficiencyResult
    costs: CostResult
    train_size: int
    figures: dict[str, str]
    wall_seconds: float = 0.0
    latency: dict[str, Any] | None = None  # results/<profile>/export_latency.json (part 5)
    last_run: dt.date | None = None  # when the newest stored run of parts 1 to 4 finished


ENGINE_CHANGED = dt.date(2026, 12, 4)
"""The engine's last change that moves parts 1 to 4's numbers (issue 12: gradual geometric
schedule, whitened SVD by default, layer-averaged losses with T^2, the label-balanced rt split,
teacher recipe 3): runs stored before it describe the earlier engine."""


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage with ``digits`` decimals; ``-`` when missing."""
    return "-" if value is None else f"{100 * value:.{digits}f}"


def ratio_text(value: float | None) -> str:
    """A ratio with three decimals; ``-`` when missing."""
    return "-" if value is None else f"{value:.3f}"

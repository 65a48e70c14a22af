"""Progress of a search that everyone can read: one log line per trial start and end.

Lines go to the ``ladasearch.search`` logger (stderr through the CLI's ``--log-level``), whether
or not stderr is a terminal: the ratios, how the trial ended (state, accuracy), its wall time,
trials done / total in the study (all workers together) and an ETA. On a terminal a tqdm bar over
the study's trials is drawn too, and log lines are written above it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from optuna.trial import TrialState

from ladasearch.compression.ratios import RATIO_KEYS

__all__ = ["LOGGER", "TqdmHandler", "TrialProgress"]

LOGGER = logging.getLogger("ladasearch.search")


class TqdmHandler(logging.Handler):
    """A logging handler that writes through ``tqdm.write`` (lines above the bar)."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm.auto import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


def _ratios(config: dict[str, Any]) -> str:
    parts = [
        f"{key}={float(config[key]):.3f}"
        for key in RATIO_KEYS
        if isinstance(config.get(key), (int, float))
    ]
    target = config.get("target_ratio")
    if isinstance(target, (int, float)) and target > 0:
        parts.append(f"target={1 / float(target):.2f}x")
    return " ".join(parts)


def _duration(wall: float) -> str:
    seconds = max(0, round(wall))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class TrialProgress:
    """Logs trial starts and ends; ``done`` reads the study's finished-trial count.

    ``total`` is the study's requested trials; ``concurrency`` the trials that run at once (for
    the ETA: mean wall time of this run's trials x trials left / concurrency).
    """

    def __init__(
        self,
        total: int,
        done: Callable[[], int],
        concurrency: int,
        *,
        bar: bool = False,
        logger: logging.Logger = LOGGER,
    ) -> None:
        self.total = total
        self.done = done
        self.concurrency = max(1, concurrency)
        self.logger = logger
        self._started: dict[int, float] = {}
        self._walls: list[float] = []
        self._bar: Any = None
        if bar:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total, initial=min(total, done()), desc="trials", file=sys.stderr,
                dynamic_ncols=True,
            )  # fmt: skip

    def started(self, number: int, config: dict[str, Any]) -> None:
        """A trial was launched."""
        self._started[number] = time.perf_counter()
        self.logger.info(
            "trial %d started: %s (%d/%d done)", number, _ratios(config), self._safe_done(),
            self.total,
        )  # fmt: skip

    def finished(self, number: int, state: TrialState, result: dict[str, Any]) -> None:
        """A trial ended (``result``: its config and last report)."""
        wall = time.perf_counter() - self._started.pop(number, time.perf_counter())
        self._walls.append(wall)
        done = self._safe_done()
        accuracy = result.get("accuracy")
        how = f"accuracy={accuracy:.4f}" if isinstance(accuracy, (int, float)) else ""
        if result.get("fail_reason"):
            how = f"{how} ({result['fail_reason']})".strip()
        left = max(0, self.total - done)
        eta = sum(self._walls) / len(self._walls) * left / self.concurrency
        self.logger.info(
            "trial %d %s: %s %s in %s; %d/%d done, ETA %s", number, state.name, _ratios(result),
            how, _duration(wall), done, self.total, _duration(eta) if left else "0s",
        )  # fmt: skip
        if self._bar is not None:
            self._bar.n = min(self.total, done)
            self._bar.set_postfix_str(f"ETA {_duration(eta)}")
            self._bar.refresh()

    def close(self) -> None:
        """Close the bar (if any)."""
        if self._bar is not None:
            self._bar.close()

    def _safe_done(self) -> int:
        try:
            return self.done()
        except Exception:  # a busy database: the count is only for the log line
            return -1

"""User-facing errors: one clear line, a non-zero exit, never a traceback.

Every problem a user can cause (a wrong ratio, an infeasible target, a missing column, a broken
study file, a dead database) is raised as a :class:`LadaError` subclass. The command line catches
``LadaError`` at the top, prints ``ladasearch: error: <message>`` on stderr and exits with
``exit_code`` (2 by default, like argparse's own usage errors).
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "InfeasibleTarget",
    "LadaError",
    "ModelError",
    "RatioError",
    "StorageError",
    "StudyFileError",
]


class LadaError(Exception):
    """A problem with the user's input or environment, reported as one line."""

    exit_code: int = 2


class RatioError(LadaError):
    """A compression ratio outside (0, 1] or otherwise unusable."""


class InfeasibleTarget(LadaError):
    """A target ratio that no (P_embd, P_svd, P_weight) in (0, 1]^3 reaches under eq. 7."""

    def __init__(self, message: str, smallest_reachable: float) -> None:
        super().__init__(message)
        self.smallest_reachable = smallest_reachable


class DataError(LadaError):
    """Unreadable, empty or malformed task data (names the file and the problem)."""


class ModelError(LadaError):
    """A model that cannot be loaded or is not a supported sequence-classification encoder."""


class StudyFileError(LadaError):
    """A study YAML file that is broken (names the key and the reason)."""


class StorageError(LadaError):
    """A study database that cannot be reached or does not hold what was asked for."""

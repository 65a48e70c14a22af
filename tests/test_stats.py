"""Paired tests on known cases."""

from __future__ import annotations

import pytest

from ladasearch.stats import mcnemar_exact, paired_bootstrap, verdict


def test_mcnemar_exact_matches_the_binomial_by_hand() -> None:
    # 10 discordant pairs, 9 for A: p = 2 * (C(10,0) + C(10,1)) / 2^10 = 22 / 1024.
    a = [True] * 9 + [False] + [True] * 50
    b = [False] * 9 + [True] + [True] * 50
    assert mcnemar_exact(a, b) == pytest.approx(22 / 1024)
    assert mcnemar_exact(b, a) == pytest.approx(22 / 1024)


def test_mcnemar_without_disagreement_is_one_and_a_balanced_split_is_not_significant() -> None:
    same = [True, False, True]
    assert mcnemar_exact(same, same) == 1.0
    a = [True, False] * 20
    b = [False, True] * 20
    assert mcnemar_exact(a, b) == 1.0


def test_paired_bootstrap_separates_a_clear_win_from_a_tie() -> None:
    a = [True] * 90 + [False] * 10
    b = [True] * 60 + [False] * 40
    clear = paired_bootstrap(a, b, samples=1000)
    assert clear.difference == pytest.approx(0.3)
    assert clear.p_value < 0.01 and clear.low > 0
    tie = paired_bootstrap(a, list(a), samples=200)
    assert tie.p_value == 1.0 and tie.difference == 0


def test_mismatched_lengths_raise_and_verdict_needs_significance() -> None:
    with pytest.raises(ValueError, match="same examples"):
        mcnemar_exact([True], [True, False])
    assert verdict(0.9, 0.8, 0.01) == "beats"
    assert verdict(0.8, 0.9, 0.01) == "loses to"
    assert verdict(0.9, 0.8, 0.2) == "tie"

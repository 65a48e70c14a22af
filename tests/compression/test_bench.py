"""Interleaved latency timing (compression/bench.py): warm-up, then A/B pairs in alternating order."""

from __future__ import annotations


def test_bench_pair_interleaves_after_warmup() -> None:
    from ladasearch.compression.bench import bench_pair

    calls: list[str] = []
    (t_ms, t_iqr), (s_ms, s_iqr) = bench_pair(
        lambda: calls.append("T"), lambda: calls.append("S"), runs=20, warmup=3
    )
    assert len(calls) == 2 * 23
    assert all({calls[i], calls[i + 1]} == {"T", "S"} for i in range(0, len(calls), 2))
    assert calls[:4] == ["T", "S", "S", "T"]  # neither always runs first
    assert t_iqr[0] <= t_ms <= t_iqr[1] and s_iqr[0] <= s_ms <= s_iqr[1]

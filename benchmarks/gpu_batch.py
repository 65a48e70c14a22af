"""Run the benchmark's multi-seed comparisons, tables and sampler studies as one batch on a GPU.

    python -m benchmarks.gpu_batch --work results/gpu --device cuda --workers 8 --deadline 480

Every comparison BENCHMARKS.md reports is a list of independent jobs (a variant at a ratio with
its seeds; a shard of a tabular benchmark; one sampler study), so one GPU runs several at once,
each a process of its own. The teacher (and the statistics the factorizations need) is trained
first by the factorization-alone table, then the jobs start in priority order; a job still
running at ``--deadline`` seconds is stopped (every job writes its results as it goes, so a cut
job keeps its finished runs). Afterwards the tables are rendered into ``WORK/tables.md``. Each
job's output is in ``WORK/logs/``. ``--smoke`` runs the same jobs on the tiny offline model with
a few steps, to check the batch on a CPU before spending GPU time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Job", "jobs", "main"]

RATIOS = (5.0, 10.0, 2.5, 7.5)
METHODS = (
    "LadaBERT",
    "weight pruning only",
    "SVD only",
    "hybrid pruning w/o KD",
    "small student, teacher init",
    "small student, random init",
)


@dataclass
class Job:
    """One process of the batch."""

    name: str
    argv: list[str]
    after: tuple[str, ...] = ()  # name prefixes that must have finished first
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started: float = 0.0
    status: str = "waiting"


def jobs(common: list[str], work: Path, steps: int, tabular_points: int, trials: int) -> list[Job]:
    """The batch's jobs in priority order (see the module docstring)."""
    py = [sys.executable, "-m"]
    runs = ["--steps", str(steps), "--iterations", "2", "--seeds", "3"]
    out = work / "json"
    listed: list[Job] = []
    for ratio in RATIOS:
        for index, method in enumerate(METHODS):
            listed.append(
                Job(
                    f"methods-{ratio:g}x-{index}",
                    [
                        *py,
                        "benchmarks.recipes",
                        *common,
                        *runs,
                        "--compare",
                        "methods",
                        "--target",
                        f"{ratio:g}",
                        "--only",
                        method,
                        "--json",
                        str(out / f"methods_{ratio:g}x_{index}.json"),
                    ],
                )
            )
    for sampler_name in ("tpe", "random"):
        for seed in range(3):
            listed.append(
                Job(
                    f"study-{sampler_name}-{seed}",
                    [
                        *py,
                        "benchmarks.sampler_studies",
                        *common,
                        "--sampler",
                        sampler_name,
                        "--seed",
                        str(seed),
                        "--trials",
                        str(trials),
                        "--steps",
                        str(steps),
                        "--out",
                        str(work / "studies" / f"{sampler_name}_{seed}.json"),
                    ],
                )
            )
    for compare, names in (
        ("recipes", ("new recipe", "old recipe", "new recipe + label CE")),
        ("factorizations", ("svd", "fisher", "whiten")),
    ):
        for index, variant in enumerate(names):
            listed.append(
                Job(
                    f"{compare}-5x-{index}",
                    [
                        *py,
                        "benchmarks.recipes",
                        *common,
                        *runs,
                        "--compare",
                        compare,
                        "--target",
                        "5",
                        "--only",
                        variant,
                        "--json",
                        str(out / f"{compare}_5x_{index}.json"),
                    ],
                )
            )
    shards = 8
    for table, where in (("5x", ["--target", "0.2"]), ("pareto", ["--target-range", "0.1,0.4"])):
        for shard in range(shards):
            listed.append(
                Job(
                    f"tabular-{table}-{shard}",
                    [
                        *py,
                        "benchmarks.tabular",
                        *common,
                        *where,
                        "--points",
                        str(tabular_points),
                        "--shard",
                        f"{shard}/{shards}",
                        "--steps",
                        str(steps),
                        "--out",
                        str(work / "tabular" / f"{table}_{shard}.csv"),
                    ],
                )
            )
    listed.append(
        Job(
            "searched-5x",
            [
                *py,
                "benchmarks.gpu_searched",
                *common,
                *runs,
                "--table-glob",
                str(work / "tabular" / "5x_*.csv"),
                "--json",
                str(out / "methods_5x_searched.json"),
            ],
            after=("tabular-5x-",),
        )
    )
    return listed


def _finished(all_jobs: list[Job], prefixes: tuple[str, ...]) -> bool:
    return all(
        job.status in ("done", "failed", "cut")
        for job in all_jobs
        if any(job.name.startswith(p) for p in prefixes)
    )


def run_pool(
    all_jobs: list[Job], workers: int, deadline: float, logs: Path, env: dict[str, str]
) -> None:
    """Run the jobs, at most ``workers`` at once, until all end or ``deadline`` (monotonic)."""
    logs.mkdir(parents=True, exist_ok=True)
    while True:
        now = time.monotonic()
        running = [j for j in all_jobs if j.status == "running"]
        for job in running:
            assert job.process is not None
            code = job.process.poll()
            if code is not None:
                job.status = "done" if code == 0 else "failed"
                print(
                    f"[{now - START:6.0f}s] {job.status}: {job.name} ({now - job.started:.0f} s)",
                    flush=True,
                )
        running = [j for j in all_jobs if j.status == "running"]
        if now >= deadline:
            for job in running:
                assert job.process is not None
                job.process.terminate()
                job.status = "cut"
            time.sleep(3)
            for job in running:
                assert job.process is not None
                if job.process.poll() is None:
                    job.process.kill()
            print(f"[{now - START:6.0f}s] deadline: cut {len(running)} running jobs", flush=True)
            return
        waiting = [j for j in all_jobs if j.status == "waiting" and _finished(all_jobs, j.after)]
        while waiting and len(running) < workers:
            job = waiting.pop(0)
            handle = (logs / f"{job.name}.log").open("wb")
            job.process = subprocess.Popen(
                job.argv, stdout=handle, stderr=subprocess.STDOUT, env=env
            )
            job.started = time.monotonic()
            job.status = "running"
            running.append(job)
            print(f"[{job.started - START:6.0f}s] start: {job.name}", flush=True)
        if not running and not [j for j in all_jobs if j.status == "waiting"]:
            return
        time.sleep(1)


START = time.monotonic()


def render(work: Path) -> str:
    """Every table of the batch, as markdown."""
    env = {**os.environ}
    parts = []
    json_files = sorted(str(p) for p in (work / "json").glob("*.json"))
    if json_files:
        made = subprocess.run(
            [sys.executable, "-m", "benchmarks.seeded_tables", *json_files],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        parts.append(made.stdout + made.stderr)
    studies = sorted(str(p) for p in (work / "studies").glob("*.json"))
    if studies:
        made = subprocess.run(
            [sys.executable, "-m", "benchmarks.sampler_studies", "--report", *studies],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        parts.append("Sampler studies\n\n" + made.stdout + made.stderr)
    for table in ("5x", "pareto"):
        shards = sorted(str(p) for p in (work / "tabular").glob(f"{table}_*.csv"))
        if shards:
            made = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.tabular",
                    "--merge",
                    *shards,
                    "--out",
                    str(work / f"tabular_{table}.csv"),
                ],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            parts.append(made.stdout + made.stderr)
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Run the batch; return 0 (failed jobs are listed, not fatal)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--task", default="rt")
    parser.add_argument("--text-column", default=None)
    parser.add_argument("--label-column", default=None)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=480.0, help="seconds for the whole batch")
    parser.add_argument("--steps", type=int, default=100, help="steps per iteration (2 iterations)")
    parser.add_argument("--tabular-points", type=int, default=64)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--only", default=None, help="run only jobs whose name starts with this")
    parser.add_argument(
        "--extra", type=Path, default=None, help="a file of extra jobs: NAME<TAB>COMMAND"
    )
    args = parser.parse_args(argv)
    deadline = START + args.deadline
    work = args.work
    cache = work / "cache"
    common = [
        "--model",
        args.model,
        "--task",
        args.task,
        "--device",
        args.device,
        "--cache-dir",
        str(cache),
        "--teacher-steps",
        "0",
    ]
    if args.text_column:
        common += ["--text-column", args.text_column]
    if args.label_column:
        common += ["--label-column", args.label_column]
    env = {**os.environ, "OMP_NUM_THREADS": "2", "TOKENIZERS_PARALLELISM": "false"}
    work.mkdir(parents=True, exist_ok=True)
    first = Job(
        "factorization-alone", [sys.executable, "-m", "benchmarks.factorization_alone", *common]
    )
    run_pool([first], 1, deadline, work / "logs", env)
    print(
        (work / "logs" / "factorization-alone.log").read_text(errors="replace")[-3000:], flush=True
    )
    if first.status != "done":
        print("the first job (teacher + factorization alone) failed: stopping", flush=True)
        return 1
    listed = jobs(common, work, args.steps, args.tabular_points, args.trials)
    if args.extra is not None and args.extra.is_file():
        for line in args.extra.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, command = line.split("\t", 1)
                listed.insert(0, Job(name, ["bash", "-c", command]))
    if args.only:
        listed = [j for j in listed if j.name.startswith(args.only)]
    run_pool(listed, args.workers, deadline, work / "logs", env)
    summary = "\n".join(f"{j.status:8} {j.name}" for j in listed)
    (work / "jobs.txt").write_text(summary + "\n")
    print(summary, flush=True)
    tables = render(work)
    (work / "tables.md").write_text(tables + "\n")
    print(tables, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

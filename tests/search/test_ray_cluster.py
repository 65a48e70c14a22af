"""The docker-compose topology without Docker: a two-node Ray cluster on loopback + PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from search_helpers import cli_env, ladasearch, write_study

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _uses(process: Path, temp_dir: str) -> bool:
    """Whether a /proc entry's command line or open files name ``temp_dir`` (Ray renames its agents)."""
    try:
        if temp_dir in (process / "cmdline").read_bytes().decode(errors="replace"):
            return True
        return any(temp_dir in os.readlink(fd) for fd in (process / "fd").iterdir())
    except OSError:
        return False


def _stop_cluster(ray: str, temp_dir: str) -> None:
    """Stop this test's Ray processes only (found by their session folder), never other users' Rays.

    ``ray stop --force`` would kill every Ray on the machine (other searches included), so it is
    used only when ``LADASEARCH_TEST_RAY_STOP_ALL=1`` (a CI machine of our own).
    """
    if os.environ.get("LADASEARCH_TEST_RAY_STOP_ALL") == "1":
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120)
        return
    for _ in range(2):
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid() and _uses(entry, temp_dir):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.name), signal.SIGKILL)
        time.sleep(1)


@pytest.fixture
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ray start --head`` plus a second ``ray start --address=...`` node, both on 127.0.0.1."""
    ray = shutil.which("ray")
    if ray is None:
        pytest.skip("the ray command is not installed")
    env = cli_env(tmp_path_factory.mktemp("ray-cache"))
    env["RAY_AUTH_MODE"] = (
        "disabled"  # Ray 2.60's token auth: the loopback nodes share no token file
    )
    temp_dir = f"/tmp/rt{uuid.uuid4().hex[:8]}"  # short: Ray's socket paths have a length limit
    common = ["--num-cpus=1", "--disable-usage-stats"]

    def ray_start(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ray, "start", *args, *common], capture_output=True, text=True, timeout=120, env=env
        )

    try:
        for _attempt in range(2):  # a free port can be taken between the check and Ray's bind
            port = _free_port()
            head = ray_start(
                "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                "--include-dashboard=false", f"--temp-dir={temp_dir}",
            )  # fmt: skip
            if head.returncode == 0:
                break
            _stop_cluster(ray, temp_dir)
        assert head.returncode == 0, f"ray start --head failed: {head.stderr[-2000:]}"
        worker = ray_start(f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1")
        assert worker.returncode == 0, f"ray start --address failed: {worker.stderr[-2000:]}"
        yield f"127.0.0.1:{port}"
    finally:
        _stop_cluster(ray, temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _alive_nodes(address: str, env: dict[str, str]) -> int:
    """How many nodes of the cluster at ``address`` are alive, asked from a fresh process.

    Not ``ray.init`` in this process: Ray caches its auth mode per process, so a driver joined
    here with token auth off would leave a later local ``ray.init`` (token auth on by default)
    unable to talk to its own GCS.
    """
    probe = (
        "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
        "print(sum(1 for n in ray.nodes() if n['Alive'])); ray.shutdown()"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, address], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.strip().splitlines()[-1])


def test_search_on_a_two_node_loopback_cluster(
    tmp_path: Path,
    tiny_model_dir: Path,
    tiny_csv: Path,
    ray_cluster: str,
    postgres_url: str,
) -> None:
    no_token = {"RAY_AUTH_MODE": "disabled"}  # the fixture's cluster runs without token auth
    study = write_study(
        tmp_path, tiny_model_dir, tiny_csv, name="cluster", trials=2, max_concurrent=2
    )
    cache = tmp_path / "cache"
    done = ladasearch(
        ["search", str(study), "--quiet", "--ray-address", ray_cluster, "--storage", postgres_url],
        tmp_path,
        cache,
        extra_env=no_token,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    trials = optuna.load_study(study_name="cluster", storage=postgres_url).trials
    assert len(trials) == 2 and all(
        t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials
    )
    assert all(t.user_attrs.get("node") for t in trials)
    assert _alive_nodes(ray_cluster, {**cli_env(cache), **no_token}) == 2

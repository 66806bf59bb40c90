"""Scaling out: several devices (forced host devices) and several processes
(`jax.distributed` over gloo on 127.0.0.1), run for real as subprocesses with hard
timeouts. A two-process run must equal a one-process run on the same number of
devices; a dead peer or an unreachable coordinator must end the others quickly."""

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import scoresde as ss
from scoresde._cli import main


ROOT = pathlib.Path(__file__).resolve().parents[1]


def _env(devices: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT),
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
        SCORESDE_CACHE_DIR="",
        **extra,
    )
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(
    args, devices: int, timeout: float = 240, **env
) -> subprocess.CompletedProcess:
    """`scoresde ARGS` in one process with `devices` forced host devices."""
    return subprocess.run(
        [sys.executable, "-m", "scoresde._cli", *map(str, args)],
        env=_env(devices, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _cli_processes(args, num: int = 2, devices: int = 2, timeout: float = 300):
    """`scoresde ARGS` in `num` processes of `devices` forced host devices each,
    joined through a coordinator on 127.0.0.1; all killed at `timeout`."""
    port = _free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "scoresde._cli", *map(str, args)]
            + ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(num)]
            + ["--process-id", str(i)],
            env=_env(devices),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(num)
    ]
    deadline = time.monotonic() + timeout
    outputs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            outputs.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for i, (rc, out, err) in enumerate(outputs):
        assert rc == 0, f"process {i} exited with {rc}:\n{out}\n{err[-3000:]}"
    return outputs


# --------------------------------------------------------------------- flags
def test_process_flags_all_or_none(tmp_path, capsys):
    rc = main(["train", "--dataset", "mixture-1d", "--out", str(tmp_path / "r")]
              + ["--coordinator", "127.0.0.1:1234"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "all three or none" in err and "--coordinator" in err
    rc = main(["sample", str(tmp_path), "--out", str(tmp_path / "s.npy")]
              + ["--coordinator", "127.0.0.1:1234", "--num-processes", "2"]
              + ["--process-id", "2"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "--process-id must lie in 0..1" in err
    rc = main(["likelihood", str(tmp_path), "--data", "x.npy", "--out", "l.npy"]
              + ["--coordinator", "nohost", "--num-processes", "2"]
              + ["--process-id", "0"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "HOST:PORT" in err and "'nohost'" in err
    rc = main(["impute", str(tmp_path), "--data", "x.npy", "--mask", "m.npy"]
              + ["--out", "i.npy", "--num-processes", "2"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "all three or none" in err
    assert not (tmp_path / "r").exists()  # refused before anything ran


def test_unreachable_coordinator_is_one_line(tmp_path):
    port = _free_port()  # nobody listens there
    start = time.monotonic()
    result = _cli(
        ["sample", tmp_path, "--out", tmp_path / "s.npy"]
        + ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
        + ["--process-id", "1"],
        devices=1,
        timeout=120,
        SCORESDE_INIT_TIMEOUT="3",
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], result.stderr
    assert "within 3 s" in lines[0]
    assert time.monotonic() - start < 100


# ------------------------------------------------- one process, 1 vs 4 devices
_ONE_VS_FOUR = """
import jax, numpy as np
from jax.sharding import Mesh
import scoresde as ss

mix = ss.datasets.get("nine-gaussians")
sde = ss.VPSDE()
score = ss.exact_score(mix, sde)
one = Mesh(np.asarray(jax.devices()[:1]), ("data",))
ys = mix.sample(jax.random.key(0), 13)
out = {}
for name, mesh in (("one", one), ("all", None)):
    out[name + "_pf"] = ss.sample(jax.random.key(1), sde, score, num_samples=13,
                                  shape=(2,), mesh=mesh)
    out[name + "_dpm"] = ss.sample(jax.random.key(1), sde, score, num_samples=13,
                                   shape=(2,), sampler=ss.DPMSolver(num_steps=4),
                                   chunk_size=8, mesh=mesh)
    out[name + "_ll"] = ss.log_likelihood(jax.random.key(2), sde, score, ys,
                                          mesh=mesh)
    out[name + "_imp"] = ss.impute(jax.random.key(3), sde, score, ys,
                                   np.array([True, False]),
                                   sampler=ss.DPMSolver(num_steps=4), mesh=mesh)
    out[name + "_ll_own"] = ss.log_likelihood(
        jax.random.key(2), sde, score, ys, ode=ss.ODESolve(shared_steps=False),
        mesh=mesh)
out["devices"] = np.asarray(len(jax.devices()))
out["sharded"] = np.asarray(len(out["all_ll"].sharding.device_set))
out["exact"] = jax.vmap(mix.log_prob)(ys)
np.savez(OUT, **{k: np.asarray(v) for k, v in out.items()})
"""


def test_sample_and_likelihood_same_on_1_and_4_devices(tmp_path):
    path = tmp_path / "out.npz"
    script = f"OUT = {str(path)!r}\n" + textwrap.dedent(_ONE_VS_FOUR)
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=_env(4),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = np.load(path)
    assert int(out["devices"]) == 4 and int(out["sharded"]) == 4
    # A result depends on its key (and its chunk's largest error, for the shared
    # steps of the probability-flow sampler and the likelihood) only; 13 points
    # are padded to 16 on 4 devices, and the DPM-Solver's chunks of 8 are the
    # same on 1 and 4 devices.
    for name in ("pf", "dpm", "imp", "ll", "ll_own"):
        np.testing.assert_array_equal(out["one_" + name], out["all_" + name], name)
    assert out["all_pf"].shape == (13, 2) and out["all_ll"].shape == (13,)
    np.testing.assert_allclose(out["all_ll"], out["exact"], atol=0.05)


def test_sample_rejects_a_mesh_without_data_axis():
    import jax
    from jax.sharding import Mesh

    mix = ss.datasets.get("mixture-1d")
    sde = ss.VPSDE()
    mesh = Mesh(np.asarray(jax.devices()), ("batch",))
    with pytest.raises(ValueError, match="'data' axis"):
        ss.sample(jax.random.key(0), sde, ss.exact_score(mix, sde), num_samples=2,
                  shape=(1,), mesh=mesh)  # fmt: skip
    with pytest.raises(ValueError, match="'data' axis"):
        ss.log_likelihood(jax.random.key(0), sde, ss.exact_score(mix, sde),
                          np.zeros((2, 1), np.float32), mesh=mesh)  # fmt: skip


# ------------------------------------------ 2 processes x 2 devices vs 1 x 4
_TRAIN = ["--dataset", "nine-gaussians", "--steps", 20, "--batch-size", 16]
_TRAIN += ["--width", 16, "--depth", 1, "--quiet"]


@pytest.mark.slow
def test_two_processes_equal_one_process_on_four_devices(tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    _cli_processes(["train", *_TRAIN, "--out", two])
    result = _cli(["train", *_TRAIN, "--out", one], devices=4)
    assert result.returncode == 0, result.stderr[-3000:]
    # Only process 0 wrote: one run directory, no stray files.
    assert sorted(p.name for p in two.iterdir()) == sorted(
        p.name for p in one.iterdir()
    )
    np.testing.assert_allclose(
        np.load(two / "losses.npy"), np.load(one / "losses.npy"), rtol=0, atol=1e-4
    )
    run_two, run_one = ss.load(two), ss.load(one)
    assert run_two.config["training"]["num_processes"] == 2
    ys = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    for t in (0.01, 0.5, 1.0):
        s_two = np.stack([np.asarray(run_two.score(t, y)) for y in ys])
        s_one = np.stack([np.asarray(run_one.score(t, y)) for y in ys])
        np.testing.assert_allclose(s_two, s_one, rtol=1e-3, atol=1e-5)

    # Sampling the same run: identical in 2 processes x 2 and 1 process x 4.
    sample = ["sample", two, "--num", 13, "--quiet"]
    _cli_processes([*sample, "--out", tmp_path / "s2.npy"])
    result = _cli([*sample, "--out", tmp_path / "s1.npy"], devices=4)
    assert result.returncode == 0, result.stderr[-3000:]
    s2, s1 = np.load(tmp_path / "s2.npy"), np.load(tmp_path / "s1.npy")
    assert s2.shape == (13, 2)
    np.testing.assert_array_equal(s2, s1)


@pytest.mark.slow
def test_resume_with_another_process_count(tmp_path):
    # A run started in one process on 4 devices continues in 2 processes x 2
    # devices as it would have in the first: the batches do not depend on the
    # split. (The default optimiser's schedule depends on --steps, so the
    # reference also goes 10 steps, then 20.)
    train = [a for a in _TRAIN if a not in ("--steps", 20)]
    first, second = tmp_path / "first", tmp_path / "second"
    result = _cli(["train", *train, "--steps", 10, "--out", first], devices=4)
    assert result.returncode == 0, result.stderr[-3000:]
    shutil.copytree(first, second)
    result = _cli(["train", *train, "--steps", 20, "--out", first], devices=4)
    assert result.returncode == 0, result.stderr[-3000:]
    _cli_processes(["train", *train, "--steps", 20, "--out", second])
    a, b = np.load(first / "losses.npy"), np.load(second / "losses.npy")
    assert a.shape == b.shape == (20,)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)
    assert ss.load(second).config["training"]["num_processes"] == 2


@pytest.mark.slow
def test_killed_peer_stops_the_others(tmp_path):
    port = _free_port()
    run = tmp_path / "run"
    env = _env(2, SCORESDE_HEARTBEAT_TIMEOUT="5")
    args = [sys.executable, "-m", "scoresde._cli", "train", *map(str, _TRAIN)]
    args += ["--steps", "1000000", "--checkpoint-every", "5", "--out", str(run)]
    args += ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
    procs = [
        subprocess.Popen(
            [*args, "--process-id", str(i)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 240
        while not (run / "checkpoint.eqx").exists():  # both are training
            assert time.monotonic() < deadline, "training never started"
            assert all(p.poll() is None for p in procs), procs[0].stderr.read()
            time.sleep(0.5)
        procs[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        _, err = procs[0].communicate(timeout=120)
        elapsed = time.monotonic() - killed
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert procs[0].returncode != 0
    assert elapsed < 60, elapsed
    assert "task" in err.lower() or "heartbeat" in err.lower(), err[-2000:]

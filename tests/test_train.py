"""Training: loss decrease, exact resume, checkpoints, sharding over devices."""

import errno
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import scoresde as ss
from scoresde import _rundir

from .helpers import all_sdes


MIX = ss.datasets.get("mixture-1d")
SDE = ss.VPSDE()


def tiny_model(data_shape=(1,), num_classes=None, parameterization="eps"):
    net = ss.nets.MLP(
        data_shape, width=16, depth=1, num_classes=num_classes, key=jax.random.key(0)
    )
    return ss.ScoreModel(net, SDE, parameterization=parameterization, data_std=5.0)


SETTINGS = dict(batch_size=64, steps_per_dispatch=10, progress=False)


def params_of(model):
    return jax.tree_util.tree_leaves(eqx.filter(model.net, eqx.is_inexact_array))


def assert_same_params(a, b, rtol=0.0, atol=0.0):
    for x, y in zip(params_of(a), params_of(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def uninterrupted():
    """40 steps of the default optimiser, without checkpoints."""
    return ss.train(tiny_model(), MIX, key=jax.random.key(1), steps=40, **SETTINGS)


def test_short_run_lowers_the_loss():
    result = ss.train(
        tiny_model(),
        MIX,
        key=jax.random.key(1),
        steps=300,
        learning_rate=3e-3,
        batch_size=128,
        steps_per_dispatch=100,
        progress=False,
    )
    assert result.losses.shape == (300,) and result.step == 300
    assert result.losses[-50:].mean() < 0.8 * result.losses[:10].mean()
    assert result.wall_time > 0 and not result.interrupted


def test_resume_after_ctrl_c_equals_uninterrupted(tmp_path, uninterrupted):
    def stop_at_20(step, losses):
        if step >= 20:
            raise KeyboardInterrupt

    first = ss.train(
        tiny_model(),
        MIX,
        key=jax.random.key(1),
        steps=40,
        checkpoint_dir=tmp_path,
        callback=stop_at_20,
        **SETTINGS,
    )
    assert first.interrupted and first.step == 20
    assert first.interrupted_by == "SIGINT" and first.checkpoint_step == 20
    assert ss.load(tmp_path).step == 20
    resumed = ss.train(
        tiny_model(),
        MIX,
        key=jax.random.key(1),
        steps=40,
        checkpoint_dir=tmp_path,
        **SETTINGS,
    )
    assert resumed.step == 40 and not resumed.interrupted
    np.testing.assert_array_equal(resumed.losses, uninterrupted.losses)
    assert_same_params(resumed.model, uninterrupted.model)
    assert_same_params(resumed.ema_model, uninterrupted.ema_model)


def test_extending_a_run_with_a_custom_optimizer(tmp_path):
    optimizer = optax.adam(1e-3)
    kwargs = dict(key=jax.random.key(1), optimizer=optimizer, **SETTINGS)
    ss.train(tiny_model(), MIX, steps=20, checkpoint_dir=tmp_path, **kwargs)
    resumed = ss.train(tiny_model(), MIX, steps=40, checkpoint_dir=tmp_path, **kwargs)
    whole = ss.train(tiny_model(), MIX, steps=40, **kwargs)
    np.testing.assert_array_equal(resumed.losses, whole.losses)
    assert_same_params(resumed.model, whole.model)


def test_load_rebuilds_the_trained_model(tmp_path):
    result = ss.train(
        tiny_model(parameterization="v"),
        MIX,
        key=jax.random.key(1),
        steps=20,
        checkpoint_dir=tmp_path,
        checkpoint_every=10,
        **SETTINGS,
    )
    run = ss.load(tmp_path)
    assert run.step == 20 and run.config["training"]["steps"] == 20
    assert run.config["model"]["parameterization"] == "v"
    assert run.config["data_shape"] == [1]
    np.testing.assert_array_equal(run.losses, result.losses)
    y = jnp.array([0.7])
    assert np.allclose(run.score(0.3, y), result.ema_model(0.3, y))
    assert np.allclose(ss.load(tmp_path, ema=False).score(0.3, y), result.model(0.3, y))
    assert isinstance(run.sde, ss.VPSDE)
    assert not list(tmp_path.glob("*.tmp"))


def drop_from_saved_configs(run_dir, field):
    """Remove `model.net.field` from a run's config.json and from the checkpoint's
    copy of it (re-sealing the checksum): a run written before `field` existed."""
    config = json.loads((run_dir / "config.json").read_text())
    value = config["model"]["net"].pop(field)
    (run_dir / "config.json").write_text(json.dumps(config))
    path = run_dir / "checkpoint.eqx"
    magic, body = _rundir._open(path)
    header, rest = body.split(b"\n", 1)
    header = json.loads(header)
    del header["config"]["model"]["net"][field]
    body = json.dumps(header).encode() + b"\n" + rest
    digest = hashlib.sha256(body).hexdigest().encode()
    path.write_bytes(magic + digest + b"\n" + body)
    return value


def test_load_rebuilds_a_run_from_before_output_norm(tmp_path):
    """Runs trained before the MLP's `output_norm` existed had a LayerNorm before
    the output and a config that does not name it: they load as trained."""
    net = ss.nets.MLP((1,), width=16, depth=1, output_norm=True, key=jax.random.key(0))
    model = ss.ScoreModel(net, SDE, data_std=5.0)
    result = ss.train(
        model, MIX, key=jax.random.key(1), steps=10, checkpoint_dir=tmp_path, **SETTINGS
    )
    assert drop_from_saved_configs(tmp_path, "output_norm") is True
    run = ss.load(tmp_path)
    assert run.model.net.output_norm and run.model.net.final_norm is not None
    y = jnp.array([0.7])
    np.testing.assert_array_equal(run.score(0.3, y), result.ema_model(0.3, y))
    # The default MLP has none.
    assert ss.nets.MLP((1,), key=jax.random.key(0)).final_norm is None


def test_kill_during_checkpoint_write_keeps_the_last_good_one(tmp_path, monkeypatch):
    from scoresde import _files

    real_fsync = os.fsync
    calls = {"n": 0}

    def dying_fsync(fd):
        # Each file write fsyncs the file, then the directory: config (1, 2), then
        # per checkpoint losses.npy (3, 4) and checkpoint.eqx (5, 6). Die at the
        # fsync of the second checkpoint file, after its bytes went out.
        calls["n"] += 1
        if calls["n"] > 8:
            raise KeyboardInterrupt("killed mid-write")
        return real_fsync(fd)

    monkeypatch.setattr(_files.os, "fsync", dying_fsync)
    with pytest.raises(KeyboardInterrupt):
        ss.train(
            tiny_model(),
            MIX,
            key=jax.random.key(1),
            steps=20,
            checkpoint_dir=tmp_path,
            checkpoint_every=10,
            **SETTINGS,
        )
    monkeypatch.setattr(_files.os, "fsync", real_fsync)
    # died at the checkpoint's fsync (9), and again in the save Ctrl-C makes (10)
    assert calls["n"] == 10
    run = ss.load(tmp_path)
    assert run.step == 10 and run.losses.shape == (10,)
    assert np.load(tmp_path / "losses.npy").shape == (20,)  # the export ran ahead
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_or_corrupted_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        ss.load(tmp_path / "nowhere")
    ss.train(
        tiny_model(),
        MIX,
        key=jax.random.key(1),
        steps=10,
        checkpoint_dir=tmp_path,
        **SETTINGS,
    )
    ckpt = tmp_path / "checkpoint.eqx"
    good = ckpt.read_bytes()
    ckpt.write_bytes(good[: len(good) // 2])
    with pytest.raises(ss.CheckpointError, match="checkpoint.eqx"):
        ss.load(tmp_path)
    damaged = bytearray(good)
    damaged[-5] ^= 0xFF
    ckpt.write_bytes(bytes(damaged))
    with pytest.raises(ss.CheckpointError, match="checkpoint.eqx.*checksum"):
        ss.load(tmp_path)
    ckpt.unlink()
    with pytest.raises(ss.CheckpointError, match="Missing checkpoint .*checkpoint.eqx"):
        ss.load(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ss.CheckpointError, match="config.json"):
        ss.load(tmp_path)


def test_sigterm_writes_a_checkpoint_and_returns(tmp_path, uninterrupted):
    """SIGTERM (a scheduler's stop) stops at the end of the dispatch, writes a
    checkpoint and returns like Ctrl-C; the handler is put back afterwards."""
    before = signal.getsignal(signal.SIGTERM)

    def term_at_20(step, losses):
        if step == 20:
            os.kill(os.getpid(), signal.SIGTERM)

    kwargs = dict(key=jax.random.key(1), steps=40, checkpoint_dir=tmp_path, **SETTINGS)
    first = ss.train(tiny_model(), MIX, callback=term_at_20, **kwargs)
    assert first.interrupted and first.interrupted_by == "SIGTERM"
    assert first.step == first.checkpoint_step == ss.load(tmp_path).step == 20
    assert signal.getsignal(signal.SIGTERM) is before
    # The second, damaged-newest-checkpoint resume: checkpoint.eqx (step 20) gets a
    # flipped byte; ss.load refuses and names the intact previous one (step 10);
    # resuming falls back to it, with a warning, and still ends bit for bit equal
    # to the uninterrupted run.
    ss.train(tiny_model(), MIX, **{**kwargs, "steps": 30, "checkpoint_every": 10})
    damaged = bytearray((tmp_path / "checkpoint.eqx").read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    (tmp_path / "checkpoint.eqx").write_bytes(bytes(damaged))
    (tmp_path / "config.json").write_text("{trunc")
    with pytest.raises(ss.CheckpointError, match=r"config.json.*holds a copy"):
        ss.load(tmp_path)
    with pytest.warns(UserWarning, match=r"checkpoint.prev.eqx \(step 20\)"):
        resumed = ss.train(tiny_model(), MIX, **kwargs)
    np.testing.assert_array_equal(resumed.losses, uninterrupted.losses)
    assert_same_params(resumed.ema_model, uninterrupted.ema_model)
    assert ss.load(tmp_path).config["training"]["steps"] == 40  # config rewritten


def test_damaged_checkpoint_names_the_intact_previous_one(tmp_path):
    ss.train(
        tiny_model(),
        MIX,
        key=jax.random.key(1),
        steps=20,
        checkpoint_dir=tmp_path,
        checkpoint_every=10,
        **SETTINGS,
    )
    ckpt = tmp_path / "checkpoint.eqx"
    ckpt.write_bytes(ckpt.read_bytes()[:-3])
    with pytest.raises(
        ss.CheckpointError,
        match=r"checkpoint.eqx: its checksum .*checkpoint.prev.eqx \(step 10\) is "
        "intact",
    ):
        ss.load(tmp_path)
    # losses.npy is an export: damaging it loses nothing
    (tmp_path / "losses.npy").write_bytes(b"garbage")
    (tmp_path / "checkpoint.prev.eqx").rename(ckpt)
    run = ss.load(tmp_path)
    assert run.step == 10 and run.losses.shape == (10,)


def test_non_finite_loss_stops_at_that_step_and_keeps_finite_weights(tmp_path):
    with pytest.raises(ss.NonFiniteLossError, match=r"Non-finite .* at step \d+") as e:
        ss.train(
            tiny_model(),
            MIX,
            key=jax.random.key(1),
            steps=40,
            learning_rate=1e8,
            warmup_steps=0,
            checkpoint_dir=tmp_path,
            **SETTINGS,
        )
    bad = e.value.step
    assert 0 < bad < 40 and e.value.checkpoint_step == bad
    assert isinstance(e.value, RuntimeError)
    run = ss.load(tmp_path, ema=False)
    assert run.step == bad and np.all(np.isfinite(run.losses))
    assert all(np.all(np.isfinite(np.asarray(p))) for p in params_of(run.model))


def test_one_writer_per_run_directory(tmp_path):
    from scoresde import _rundir

    with _rundir.lock(tmp_path):
        with pytest.raises(
            ss.RunDirectoryInUseError, match=f"in use .*pid {os.getpid()} on host"
        ):
            ss.train(
                tiny_model(),
                MIX,
                key=jax.random.key(1),
                steps=1,
                checkpoint_dir=tmp_path,
                **SETTINGS,
            )
    assert issubclass(ss.RunDirectoryInUseError, OSError)
    assert issubclass(ss.CheckpointError, ValueError)
    assert issubclass(ss.CheckpointError, RuntimeError)


def test_full_disk_names_the_path_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    from scoresde import _files

    kwargs = dict(key=jax.random.key(1), checkpoint_dir=tmp_path, **SETTINGS)
    ss.train(tiny_model(), MIX, steps=10, **kwargs)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_files.os, "fsync", full)
    with pytest.raises(OSError, match=f"cannot write {tmp_path}.*No space left"):
        ss.train(tiny_model(), MIX, steps=20, **kwargs)
    monkeypatch.undo()
    assert ss.load(tmp_path).step == 10
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(OSError, match="cannot create the run directory"):
        ss.train(
            tiny_model(),
            MIX,
            steps=1,
            key=jax.random.key(1),
            checkpoint_dir=tmp_path / "config.json" / "sub",
        )


def test_checkpoints_are_bounded_in_time_and_keep_the_source(tmp_path):
    from scoresde import _rundir

    _rundir.record_source(tmp_path, {"dataset": "mixture-1d", "seed": 3})
    seen = []
    ss.train(
        tiny_model(),
        MIX,
        key=jax.random.key(1),
        steps=30,
        checkpoint_dir=tmp_path,
        checkpoint_seconds=1e-9,  # every dispatch
        callback=lambda step, _: seen.append(np.load(tmp_path / "losses.npy").size),
        **SETTINGS,
    )
    assert seen == [10, 20, 30]
    assert _rundir.read_source(tmp_path) == {"dataset": "mixture-1d", "seed": 3}
    assert ss.load(tmp_path).config["source"]["seed"] == 3
    # Older run directories recorded it in cli.json.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "cli.json").write_text('{"data": "/x.npy", "shape": [2], "seed": 0}')
    assert _rundir.read_source(legacy)["data"] == "/x.npy"
    assert _rundir.read_source(tmp_path / "nowhere") == {}


def test_train_argument_errors(tmp_path):
    model = tiny_model()
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="steps"):
        ss.train(model, MIX, key=key, steps=0)
    with pytest.raises(ValueError, match="shape"):
        ss.train(model, np.zeros((10, 2)), key=key, steps=1)
    with pytest.raises(ValueError, match="ema_decay"):
        ss.train(model, MIX, key=key, steps=1, ema_decay=1.0)
    with pytest.raises(ValueError, match="labels"):
        ss.train(tiny_model(num_classes=2), np.zeros((10, 1)), key=key, steps=1)
    with pytest.raises(TypeError, match="optimizer"):
        ss.train(model, MIX, key=key, steps=1, optimizer="adam")
    ss.train(model, MIX, key=key, steps=1, checkpoint_dir=tmp_path, **SETTINGS)
    with pytest.raises(ValueError, match="resume"):
        ss.train(model, MIX, key=key, steps=2, checkpoint_dir=tmp_path, resume=False)
    other = tiny_model(parameterization="x0")
    with pytest.raises(ValueError, match="different model"):
        ss.train(other, MIX, key=key, steps=2, checkpoint_dir=tmp_path)


def test_labelled_array_keeps_rows_and_labels_paired():
    # Class k's rows are all equal to k, so a mis-paired draw shows at once.
    data = np.repeat(np.arange(4.0), 25)[:, None] * np.ones((1, 2))
    labels = np.repeat(np.arange(4), 25)
    dataset = ss.datasets.LabelledArrayDataset(data, labels)
    ys, ks = dataset.sample_with_labels(jax.random.key(0), 500)
    np.testing.assert_array_equal(np.asarray(ys)[:, 0], np.asarray(ks, np.float32))
    assert dataset.num_classes == 4 and len(np.unique(np.asarray(ks))) == 4


def test_class_conditional_training_on_an_array():
    # Two classes at -2 and +2: after training, the conditional score near the
    # data at y = 0 points towards the requested class (and the unconditional one
    # does not favour either much). Labels mis-paired with the rows would leave
    # both conditional scores pointing nowhere in particular.
    data = np.concatenate([np.full((50, 2), -2.0), np.full((50, 2), 2.0)])
    labels = np.repeat([0, 1], 50)
    net = ss.nets.MLP((2,), width=32, depth=2, num_classes=2, key=jax.random.key(0))
    model = ss.ScoreModel(net, SDE)
    result = ss.train(
        model,
        data,
        labels=labels,
        label_dropout=0.2,
        key=jax.random.key(1),
        steps=300,
        **SETTINGS,
    )
    assert np.all(np.isfinite(result.losses))
    score = result.ema_model
    y = jnp.zeros(2)
    towards_0 = np.asarray(score(0.3, y, 0))
    towards_1 = np.asarray(score(0.3, y, 1))
    assert np.all(towards_0 < -1.0) and np.all(towards_1 > 1.0), (towards_0, towards_1)


@pytest.mark.parametrize("sde_name", list(all_sdes()))
def test_model_config_round_trips_through_json(sde_name):
    net = ss.nets.UNet((1, 8, 8), channels=(8, 8), num_classes=3, key=jax.random.key(0))
    model = ss.ScoreModel(net, all_sdes()[sde_name], parameterization="v", data_std=0.5)
    config = json.loads(json.dumps(ss.model_to_config(model)))
    rebuilt = ss.model_from_config(config)
    assert ss.model_to_config(rebuilt) == config
    for t in (0.1, 0.55, 1.0):
        for a, b in zip(model.sde.marginal(t), rebuilt.sde.marginal(t)):
            assert np.allclose(a, b, rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown SDE"):
        ss.make_sde("vpp")
    with pytest.raises(ValueError, match="Unknown network"):
        ss.make_net("resnet", (2,), key=jax.random.key(0))


MULTI_DEVICE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import equinox as eqx, jax, numpy as np
    from jax.sharding import Mesh
    import scoresde as ss

    assert len(jax.devices()) == 4, jax.devices()
    mix = ss.datasets.get("nine-gaussians")
    net = ss.nets.MLP((2,), width=16, depth=1, key=jax.random.key(0))
    model = ss.ScoreModel(net, ss.VPSDE())
    kwargs = dict(key=jax.random.key(1), steps=30, batch_size=64,
                  steps_per_dispatch=10, progress=False)
    one = ss.train(model, mix, mesh=Mesh(np.asarray(jax.devices()[:1]), ("data",)),
                   **kwargs)
    four = ss.train(model, mix, **kwargs)
    leaves = lambda m: jax.tree_util.tree_leaves(eqx.filter(m, eqx.is_inexact_array))
    pairs = zip(leaves(one.model.net), leaves(four.model.net))
    param_diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                     for a, b in pairs)
    assert len(leaves(four.model.net)[0].sharding.device_set) == 4
    try:
        ss.train(model, mix, key=jax.random.key(1), steps=1, batch_size=6,
                 progress=False)
        error = ""
    except ValueError as e:
        error = str(e)
    json.dump({"loss_one": one.losses.tolist(), "loss_four": four.losses.tolist(),
               "param_diff": param_diff, "error": error}, sys.stdout)
    """
)


def test_four_devices_match_one():
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", MULTI_DEVICE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=pathlib.Path(__file__).parent,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    np.testing.assert_allclose(result["loss_four"], result["loss_one"], rtol=1e-5)
    assert result["param_diff"] < 1e-5
    assert "divisible by the number of devices" in result["error"]


@pytest.fixture(scope="module", params=["eps", "v"])
def trained_on_mixture(request):
    """The default MLP trained on mixture-1d (4,000 steps, batch 512)."""
    data_std = float(jnp.sqrt(MIX.variance[0]))
    net = ss.nets.MLP(MIX.shape, key=jax.random.key(0))
    model = ss.ScoreModel(net, SDE, parameterization=request.param, data_std=data_std)
    return ss.train(
        model, MIX, key=jax.random.key(1), steps=4000, batch_size=512, progress=False
    )


@pytest.mark.slow
def test_longer_run_learns_the_exact_score(trained_on_mixture):
    """The trained score against the exact one, weighted by p_t: the relative mean
    squared error E_{p_t}|s_theta - grad log p_t|^2 / E_{p_t}|grad log p_t|^2."""
    exact = ss.exact_score(MIX, SDE)
    # (At t -> 0 the s^2 weighting gives the score little weight: at t = 0.01 the
    # relative error is still ~0.4 after this run; from t = 0.05 on it is small.)
    for t in (0.05, 0.2, 0.5, 0.9):
        ys = MIX.marginal(SDE, t).sample(jax.random.key(2), 20_000)
        ts = jnp.full(ys.shape[0], t)
        learned = jax.vmap(trained_on_mixture.ema_model)(ts, ys)
        true = jax.vmap(exact)(ts, ys)
        relative = float(jnp.mean((learned - true) ** 2) / jnp.mean(true**2))
        assert relative < 0.06, (t, relative)


@pytest.mark.slow
def test_longer_run_gets_the_mode_weights(trained_on_mixture):
    """Samples from the probability-flow ODE of the trained model (integrated here
    with Diffrax) carry each mode's weight within 0.03 of (0.3, 0.1, 0.6)."""
    import diffrax

    model = trained_on_mixture.ema_model

    def solve(y1):
        term = diffrax.ODETerm(
            lambda t, y, _: SDE.probability_flow_drift(t, y, model(t, y))
        )
        sol = diffrax.diffeqsolve(
            term,
            diffrax.Tsit5(),
            t0=1.0,
            t1=1e-3,
            dt0=-0.01,
            y0=y1,
            stepsize_controller=diffrax.PIDController(rtol=1e-4, atol=1e-4),
        )
        return sol.ys[-1]

    y1 = SDE.prior_sample(jax.random.key(3), (20_000, 1))
    ys = jax.jit(jax.vmap(solve))(y1)
    weights = np.asarray(ss.metrics.mode_weights(MIX, ys))
    np.testing.assert_allclose(weights, [0.3, 0.1, 0.6], atol=0.03)


def test_one_step_per_dispatch_equals_the_scanned_run(uninterrupted):
    """`steps_per_dispatch=1` runs the update without `lax.scan` (the default for
    convolutional networks on the CPU); it must follow the same trajectory."""
    settings = dict(SETTINGS, steps_per_dispatch=1)
    single = ss.train(tiny_model(), MIX, key=jax.random.key(1), steps=40, **settings)
    np.testing.assert_allclose(single.losses, uninterrupted.losses, rtol=1e-5)
    assert_same_params(single.model, uninterrupted.model, rtol=1e-4, atol=1e-6)


def test_default_steps_per_dispatch_follows_the_network():
    from scoresde._train_loop import default_steps_per_dispatch

    unet = ss.nets.UNet((1, 8, 8), channels=(8,), key=jax.random.key(0))
    expected = 1 if jax.default_backend() == "cpu" else 100
    assert default_steps_per_dispatch(ss.ScoreModel(unet, SDE)) == expected
    assert default_steps_per_dispatch(tiny_model()) == 100

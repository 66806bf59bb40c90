"""Fault injection: real `scoresde train` subprocesses killed (SIGKILL, SIGTERM),
blown up (non-finite loss), crowded (a second writer) and pointed at an unwritable
path; every file of a run directory truncated and bit-flipped; a score function
that returns NaN. The trials are the ones of `benchmarks/faults.py`, which runs
them many times."""

import importlib.util
import pathlib
import random
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scoresde as ss
from scoresde._nonfinite import check_finite_score, first_line_of_error


_path = pathlib.Path(__file__).parents[1] / "benchmarks" / "faults.py"
_spec = importlib.util.spec_from_file_location("fault_trials", _path)
faults = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(faults)

STEPS, EVERY = 2000, 200


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted CLI run: its checkpoint's and losses' digests."""
    work = tmp_path_factory.mktemp("faults")
    return work, faults.reference(work, STEPS, EVERY)


def test_unwritable_output_path_is_one_line(tmp_path):
    assert faults.unwritable_trial(tmp_path)["survived"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("finished")
    net = ss.nets.MLP((1,), width=8, depth=1, key=jax.random.key(0))
    model = ss.ScoreModel(net, ss.VPSDE(), data_std=5.0)
    ss.train(
        model,
        ss.datasets.get("mixture-1d"),
        key=jax.random.key(1),
        steps=20,
        batch_size=32,
        steps_per_dispatch=10,
        checkpoint_dir=run_dir,
        checkpoint_every=10,
        progress=False,
    )
    return run_dir


@pytest.mark.parametrize(
    "name", ["checkpoint.eqx", "checkpoint.prev.eqx", "config.json", "losses.npy"]
)
def test_damaged_files_never_give_a_different_model(finished_run, tmp_path, name):
    """Truncation, and bit flips at many places, of each file: `ss.load` gives
    either the very same model or one line naming the damaged file."""
    import shutil

    pristine = ss.load(finished_run)
    size = (finished_run / name).stat().st_size
    rng = random.Random(0)
    damages = [("truncate", size // 2), ("truncate", size - 1)] + [
        ("flip", rng.randrange(size)) for _ in range(6)
    ]
    for how, where in damages:
        run_dir = tmp_path / f"{how}{where}"
        shutil.copytree(finished_run, run_dir)
        data = bytearray((run_dir / name).read_bytes())
        if how == "truncate":
            data = data[:where]
        else:
            data[where] ^= 1 << rng.randrange(8)
        (run_dir / name).write_bytes(bytes(data))
        try:
            run = ss.load(run_dir)
        except ss.CheckpointError as e:
            message = str(e)
            assert len(message.splitlines()) == 1 and name.split(".")[0] in message
            continue
        assert run.step == pristine.step
        for a, b in zip(
            jax.tree_util.tree_leaves(run.model),
            jax.tree_util.tree_leaves(pristine.model),
        ):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        # (a flip in config.json's training settings leaves the model as it is)
        assert name != "checkpoint.eqx", (how, where)  # its checksum catches all


def test_non_finite_score_names_the_first_time():
    """A score that turns NaN below t = 0.37, integrated from t = 1 down (as the
    samplers do) and vmapped: the error names t = 0.36, where a finite state
    first met a NaN score, although every later step is NaN too."""

    def score(t, y):
        return jnp.where(t < 0.37, jnp.nan, -y)

    checked = check_finite_score(score)
    ts = jnp.linspace(1.0, 0.01, 100)

    @jax.jit
    def integrate(y):
        def step(y, t):
            return y - 0.01 * jax.vmap(checked, (None, 0))(t, y), None

        return jax.lax.scan(step, y, ts)[0]

    ys = jnp.ones((4, 2))
    ok = jax.jit(jax.vmap(checked, (None, 0)))(0.5, ys)
    np.testing.assert_array_equal(ok, -ys)  # values unchanged when finite
    with pytest.raises(RuntimeError) as e:
        integrate(ys)
    line = first_line_of_error(e.value)
    assert line.startswith("The score function returned NaN or inf at t = 0.36")
    assert "\n" not in line


def test_sample_and_likelihood_name_the_time_of_a_non_finite_score():
    # Through the public entry points: a score that is NaN below t = 0.25.
    # DPM-Solver's 10 uniform steps from 1 to 1e-3 first evaluate below 0.25 at
    # t = 0.201; the likelihood's solve starts at t_eps = 0.1 and meets it there.
    sde = ss.VPSDE()

    def score(t, y):
        return jnp.where(t < 0.25, jnp.nan, -y)

    with pytest.raises(RuntimeError) as e:
        ys = ss.sample(
            jax.random.key(0),
            sde,
            score,
            num_samples=4,
            shape=(1,),
            sampler=ss.DPMSolver(num_steps=10, grid=ss.UniformTime()),
        )
        jax.block_until_ready(ys)
    assert "NaN or inf at t = 0.201" in first_line_of_error(e.value)
    with pytest.raises(RuntimeError) as e:
        logp = ss.log_likelihood(
            jax.random.key(0), sde, score, jnp.zeros((2, 1)), t_eps=0.1
        )
        jax.block_until_ready(logp)
    assert "NaN or inf at t = 0.100" in first_line_of_error(e.value)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_is_bit_identical(reference):
    work, ref = reference
    rng = random.Random(1)
    for _ in range(3):
        trial = faults.signal_trial(
            work, ref, STEPS, EVERY, signal.SIGKILL, rng.uniform(0.0, 5.0)
        )
        assert trial["survived"], trial


@pytest.mark.slow
def test_sigterm_saves_and_exits_like_ctrl_c(reference):
    work, ref = reference
    # Half a second after the lock: while compiling or in the first dispatch on
    # any machine (2.0 s let a fast one finish all 2,000 steps first).
    trial = faults.signal_trial(work, ref, STEPS, EVERY, signal.SIGTERM, 0.5)
    assert trial["survived"], trial
    assert trial["checkpoint_step_after_signal"] < STEPS, trial
    assert trial["returncode"] == 130, trial


@pytest.mark.slow
def test_non_finite_loss_is_one_line_and_keeps_finite_weights(tmp_path):
    trial = faults.nan_trial(tmp_path)
    assert trial["survived"], trial


@pytest.mark.slow
def test_second_writer_is_refused_and_a_dead_holder_does_not_block(tmp_path):
    trial = faults.second_writer_trial(tmp_path)
    assert trial["survived"], trial


@pytest.mark.slow
def test_damaged_checkpoint_through_the_cli(reference, tmp_path):
    work, _ = reference
    trial = faults.damage_trial(tmp_path, work / "reference", "checkpoint.eqx", "flip")
    assert trial["survived"], trial


@pytest.mark.slow
def test_sigterm_mid_run_loses_nothing_then_resumes_bit_identically(reference):
    # SIGTERM once the first periodic checkpoint exists, so it surely lands while
    # training runs: exit 130, a checkpoint at the step it stopped at, and the
    # resumed run byte-identical to the uninterrupted one.
    work, ref = reference
    trial = faults.sigterm_mid_run_trial(work, ref, STEPS, EVERY, 0)
    assert trial["survived"], trial
    assert trial["steps_lost"] == 0 and trial["stopped_at_step"] < STEPS, trial

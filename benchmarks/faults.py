"""Fault injection on `scoresde train`: real subprocesses of the command line, killed,
stopped, corrupted and crowded, then checked against an uninterrupted run.

    python benchmarks/faults.py --quick          # a few trials of each fault
    python benchmarks/faults.py --kills 50       # 50 random SIGKILLs, ...
    python benchmarks/faults.py --kills 20 --terms 5 --mid-terms 3 --steps 4000

Fault types (each trial is one fresh run directory):

- `sigkill`: SIGKILL at a random moment of a training run (uniform over the time
  from the run directory's lock to the end of an uninterrupted run: compiling,
  training, writing checkpoints), then the same command again. Survived:
  the finished checkpoint and loss history are byte-identical to an uninterrupted
  run's. Work lost: steps trained before the kill but after the newest checkpoint.
- `sigterm`: the same with SIGTERM; survived also needs exit code 130 and a
  checkpoint at the step it stopped at (no work lost).
- `sigterm-mid-run`: SIGTERM as soon as the first periodic checkpoint is on disk,
  so that it surely lands while training runs (a random delay may land after the
  end on a loaded machine). Survived: exit code 130, the printed "interrupted by
  SIGTERM at step S", a checkpoint at step S (no work lost), and the resumed run
  byte-identical to an uninterrupted one.
- `nan`: a learning rate that blows up (`--lr 1e8`). Survived: one line on stderr
  naming the step, a non-zero exit, and a loadable checkpoint with finite weights.
- `second-writer`: a second `scoresde train` on a directory in use. Survived: it
  is refused at once with one line naming the holder's pid, and after a SIGKILL of
  the holder a third one runs.
- `truncate:FILE`, `flip:FILE`: damage one file of a finished run directory, then
  `ss.load` and resuming. Survived: a one-line `CheckpointError` naming the file,
  or a model identical to the undamaged one (never a different model).
- `unwritable`: `--out` below a regular file. Survived: one line naming the path.

Writes benchmarks/results/faults.json and prints a table.
"""

import argparse
import hashlib
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import tempfile
import time


ROOT = pathlib.Path(__file__).resolve().parents[1]
CACHE = pathlib.Path(tempfile.gettempdir()) / "scoresde-faults-jax-cache"
TRAIN = [
    "--dataset",
    "mixture-1d",
    "--sde",
    "vp",
    "--width",
    "16",
    "--depth",
    "1",
    "--batch-size",
    "64",
    "--quiet",
]


def cli(*args: str) -> list[str]:
    code = "import sys; from scoresde._cli import main; sys.exit(main())"
    return [sys.executable, "-c", code, *args]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.setdefault("JAX_PLATFORMS", "cpu")
    # Restarts reuse compiled steps (the same executables, so the same bits).
    e.setdefault("JAX_COMPILATION_CACHE_DIR", str(CACHE))
    e.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    e.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    return e


def run(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        cli(*args), env=env(), capture_output=True, text=True, timeout=timeout
    )


def train_args(out: pathlib.Path, steps: int, every: int, *extra: str) -> list[str]:
    return [
        "train",
        *TRAIN,
        "--steps",
        str(steps),
        "--checkpoint-every",
        str(every),
        *extra,
        "--out",
        str(out),
    ]


def digest(run_dir: pathlib.Path) -> tuple[str, str]:
    """SHA-256 of the checkpoint and of the loss history: equal digests mean the
    same weights, EMA, optimiser state, step, key and losses, bit for bit."""
    return tuple(  # type: ignore[return-value]
        hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
        for name in ("checkpoint.eqx", "losses.npy")
    )


def checkpoint_step(run_dir: pathlib.Path) -> int:
    """The step in the newest checkpoint's header (0 when there is none)."""
    path = run_dir / "checkpoint.eqx"
    if not path.is_file():
        return 0
    with open(path, "rb") as f:
        f.readline(), f.readline()
        return int(json.loads(f.readline())["step"])


def wait_for_lock(out: pathlib.Path, proc: subprocess.Popen) -> None:
    """Wait until `proc` holds the run directory's lock: training has begun."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        lock = out / "lock"
        if lock.is_file() and f"pid {proc.pid}" in lock.read_text():
            return
        time.sleep(0.05)


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> bool:
    lines = proc.stderr.strip().splitlines()
    return (
        proc.returncode != 0
        and len(lines) == 1
        and "Traceback" not in proc.stderr
        and all(n in lines[0] for n in needles)
    )


def reference(work: pathlib.Path, steps: int, every: int) -> tuple[str, str]:
    out = work / "reference"
    proc = run(train_args(out, steps, every))
    assert proc.returncode == 0, proc.stderr
    return digest(out)


def signal_trial(
    work: pathlib.Path,
    ref: tuple[str, str],
    steps: int,
    every: int,
    sig: int,
    delay: float,
) -> dict:
    """Start training, send `sig` `delay` seconds after training began (the run
    directory's lock appeared), then rerun to the end."""
    out = work / f"{signal.Signals(sig).name}-{delay:.2f}"
    proc = subprocess.Popen(
        cli(*train_args(out, steps, every)),
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_lock(out, proc)
    time.sleep(delay)
    finished_first = proc.poll() is not None
    if not finished_first:
        proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=600)
    saved = checkpoint_step(out)
    resumed = run(train_args(out, steps, every))
    survived = resumed.returncode == 0 and digest(out) == ref
    # Stopped by SIGTERM while training: exit 130, like Ctrl-C. A signal that
    # lands after the final checkpoint (the process shutting down) may end it
    # by the default handler instead; the run is complete either way.
    if sig == signal.SIGTERM and not finished_first and 0 < saved < steps:
        survived = survived and proc.returncode == 130
    return {
        "signal": signal.Signals(sig).name,
        "delay_s": delay,
        "finished_before_signal": finished_first,
        "checkpoint_step_after_signal": saved,
        "returncode": proc.returncode,
        "survived": survived,
        "stderr_tail": (stderr + resumed.stderr)[-300:] if not survived else "",
    }


def sigterm_mid_run_trial(
    work: pathlib.Path, ref: tuple[str, str], steps: int, every: int, index: int
) -> dict:
    """SIGTERM once the first periodic checkpoint is on disk (training is under
    way, far from its end), then the same command again."""
    import re

    out = work / f"SIGTERM-mid-run-{index}"
    proc = subprocess.Popen(
        cli(*train_args(out, steps, every)),
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if checkpoint_step(out) >= every:
                break
        except (OSError, ValueError):
            pass  # a checkpoint being renamed into place
        time.sleep(0.02)
    finished_first = proc.poll() is not None
    if not finished_first:
        proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=600)
    saved = checkpoint_step(out)
    said = re.search(r"interrupted by SIGTERM at step (\d+)", stdout)
    stopped_at = int(said.group(1)) if said else None
    resumed = run(train_args(out, steps, every))
    survived = (
        not finished_first
        and proc.returncode == 130
        and stopped_at is not None
        and saved == stopped_at
        and resumed.returncode == 0
        and digest(out) == ref
    )
    return {
        "signal": "SIGTERM",
        "finished_before_signal": finished_first,
        "exit_code": proc.returncode,
        "stopped_at_step": stopped_at,
        "checkpoint_step_after_signal": saved,
        "steps_lost": None if stopped_at is None else stopped_at - saved,
        "survived": survived,
        "stderr_tail": (stderr + resumed.stderr)[-300:] if not survived else "",
    }


def nan_trial(work: pathlib.Path) -> dict:
    out = work / "nan"
    proc = run(train_args(out, 60, 10, "--lr", "1e8"))
    ok = one_line_error(proc, "Non-finite", "at step")
    step = checkpoint_step(out)
    finite = False
    if ok and step:
        import numpy as np

        import scoresde as ss

        run_ = ss.load(out, ema=False)
        finite = run_.step == step and all(
            bool(np.all(np.isfinite(np.asarray(x))))
            for x in __import__("jax").tree_util.tree_leaves(run_.model)
            if hasattr(x, "dtype")
        )
    return {"survived": ok and finite, "stderr": proc.stderr.strip()[-300:]}


def second_writer_trial(work: pathlib.Path) -> dict:
    out = work / "busy"
    holder = subprocess.Popen(
        cli(*train_args(out, 100_000, 100)),
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock = out / "lock"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if lock.is_file() and f"pid {holder.pid}" in lock.read_text():
            break
        time.sleep(0.2)
    second = run(train_args(out, 100_000, 100), timeout=300)
    refused = one_line_error(second, "in use", f"pid {holder.pid}")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    third = run(train_args(out, 1, 100), timeout=300)  # a dead holder's lock: no block
    return {
        "survived": refused and third.returncode == 0,
        "stderr": second.stderr.strip()[-300:],
        "after_kill_rc": third.returncode,
    }


def damage_trial(work: pathlib.Path, source: pathlib.Path, name: str, how: str) -> dict:
    """Copy a finished run, damage one file, then load it and resume it."""
    import shutil

    import jax
    import numpy as np

    import scoresde as ss

    out = work / f"{how}-{name}"
    shutil.copytree(source, out)
    path = out / name
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[: len(data) // 2]
    else:
        data[random.randrange(len(data))] ^= 1 << random.randrange(8)
    path.write_bytes(bytes(data))
    pristine = ss.load(source)

    def same(run_) -> bool:
        a = jax.tree_util.tree_leaves(run_.model)
        b = jax.tree_util.tree_leaves(pristine.model)
        return run_.step == pristine.step and all(
            np.array_equal(np.asarray(x), np.asarray(y))
            for x, y in zip(a, b)
            if hasattr(x, "dtype")
        )

    try:
        verdict = "identical model" if same(ss.load(out)) else "DIFFERENT MODEL"
    except ss.CheckpointError as e:
        one_line = len(str(e).splitlines()) == 1 and name.split(".")[0] in str(e)
        verdict = "one-line error" if one_line else f"unclear error: {e}"
    resumed = run(train_args(out, pristine.step + 10, 10), timeout=600)
    resume_ok = resumed.returncode == 0 or one_line_error(resumed, name.split(".")[0])
    return {
        "file": name,
        "damage": how,
        "load": verdict,
        "resume_rc": resumed.returncode,
        "resume_stderr": resumed.stderr.strip()[-200:],
        "survived": verdict in ("identical model", "one-line error") and resume_ok,
    }


def unwritable_trial(work: pathlib.Path) -> dict:
    blocker = work / "a-file"
    blocker.write_text("not a directory")
    proc = run(train_args(blocker / "run", 10, 10))
    return {"survived": one_line_error(proc, str(blocker)), "stderr": proc.stderr}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few trials of each")
    parser.add_argument("--kills", type=int, default=50, help="random SIGKILL trials")
    parser.add_argument("--terms", type=int, default=10, help="random SIGTERM trials")
    parser.add_argument(
        "--mid-terms", type=int, default=3, help="SIGTERM trials surely mid-run"
    )
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/faults.json"))
    args = parser.parse_args()
    if args.quick:
        args.kills, args.terms, args.mid_terms = 5, 2, 1
    random.seed(args.seed)
    every = max(args.steps // 10, 1)
    rows: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="scoresde-faults-") as tmp:
        work = pathlib.Path(tmp)
        ref = reference(work, args.steps, every)  # also fills the compile cache
        again = subprocess.Popen(
            cli(*train_args(work / "again", args.steps, every)), env=env()
        )
        wait_for_lock(work / "again", again)
        tick = time.monotonic()
        again.wait()
        full = time.monotonic() - tick  # from the lock (training begun) to the end
        assert again.returncode == 0 and digest(work / "again") == ref, "not repeatable"
        for sig, count in ((signal.SIGKILL, args.kills), (signal.SIGTERM, args.terms)):
            name = signal.Signals(sig).name.lower()
            for _ in range(count):
                delay = random.uniform(0.0, full)
                trial = signal_trial(work, ref, args.steps, every, sig, delay)
                rows.setdefault(name, []).append(trial)
                print(name, json.dumps(trial), flush=True)
        for index in range(args.mid_terms):
            trial = sigterm_mid_run_trial(work, ref, args.steps, every, index)
            rows.setdefault("sigterm-mid-run", []).append(trial)
            print("sigterm-mid-run", json.dumps(trial), flush=True)
        rows["nan"] = [nan_trial(work)]
        rows["second-writer"] = [second_writer_trial(work)]
        rows["unwritable"] = [unwritable_trial(work)]
        source = work / "reference"
        for name in (
            "checkpoint.eqx",
            "checkpoint.prev.eqx",
            "config.json",
            "losses.npy",
        ):
            for how in ("truncate", "flip"):
                trial = damage_trial(work, source, name, how)
                rows.setdefault(f"{how}:{name}", []).append(trial)
                print(how, name, json.dumps(trial), flush=True)
    summary = [
        {
            "fault": fault,
            "trials": len(trials),
            "survived": sum(bool(t["survived"]) for t in trials),
            # a trial that did not survive lost (or could have lost) data
            "data_lost": sum(not t["survived"] for t in trials),
            "signal_after_the_run_ended": sum(
                bool(t.get("finished_before_signal")) for t in trials
            ),
        }
        for fault, trials in rows.items()
    ]
    print(f"\n{'fault':<28}{'trials':>8}{'survived':>10}{'data lost':>11}")
    for row in summary:
        print(
            f"{row['fault']:<28}{row['trials']:>8}{row['survived']:>10}"
            f"{row['data_lost']:>11}"
        )
    result = {
        "command": "python benchmarks/faults.py " + " ".join(sys.argv[1:]),
        "steps": args.steps,
        "checkpoint_every": every,
        "training_phase_s": round(full, 1),
        "summary": summary,
        "trials": rows,
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # No machine paths in the results: the work directory becomes <tmp>.
    out.write_text(json.dumps(result, indent=1).replace(tmp, "<tmp>"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

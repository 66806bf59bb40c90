r"""Several processes (hosts, or processes on one machine): starting JAX's
multi-controller runtime (`jax.distributed`) with timeouts suited to the command
line, and the few helpers that training, sampling and the command line need to
behave as one program (process 0 writes files; arrays gathered to every process).

The runtime is JAX's own: a coordinator service in process 0, a heartbeat from
every process, collectives over the devices' own links (NCCL on GPUs, gloo over
TCP on CPUs). Nothing here is a launcher: every process runs the same command.
"""

import os
import sys
import threading
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, Sharding


#: Seconds every process waits for all the others to join the coordinator before
#: giving up with a one-line error (environment variable
#: `SCORESDE_INIT_TIMEOUT` overrides it).
INIT_TIMEOUT = 60
#: Seconds without a heartbeat after which JAX's coordination service declares a
#: process dead and stops every other process (`SCORESDE_HEARTBEAT_TIMEOUT`).
HEARTBEAT_TIMEOUT = 20
#: Seconds a finishing process waits at exit for the others to finish too
#: (`SCORESDE_SHUTDOWN_TIMEOUT`).
SHUTDOWN_TIMEOUT = 60


def _timeout(name: str, default: int) -> int:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"${name} must be a whole number of seconds >= 1, got {text!r}."
        )
    return value


def timeouts() -> dict[str, int]:
    """The timeouts in force, in seconds: `init`, `heartbeat`, `shutdown`."""
    return {
        "init": _timeout("SCORESDE_INIT_TIMEOUT", INIT_TIMEOUT),
        "heartbeat": _timeout("SCORESDE_HEARTBEAT_TIMEOUT", HEARTBEAT_TIMEOUT),
        "shutdown": _timeout("SCORESDE_SHUTDOWN_TIMEOUT", SHUTDOWN_TIMEOUT),
    }


def _use_gloo() -> None:
    """Cross-process collectives on CPU go over gloo (TCP). The default of recent
    JAX already; older versions had a boolean flag instead."""
    for name, value in (
        ("jax_cpu_collectives_implementation", "gloo"),
        ("jax_cpu_enable_gloo_collectives", True),
    ):
        try:
            jax.config.update(name, value)
            return
        except (AttributeError, KeyError, ValueError):
            continue


def check_address(address: Any) -> tuple[str, int]:
    """`HOST:PORT` -> `(host, port)`; a `ValueError` naming what is allowed."""
    text = str(address)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"the coordinator address must be HOST:PORT with a port in 1..65535 "
            f"(e.g. 127.0.0.1:12355), got {text!r}"
        )
    return host.strip("[]"), int(port)


def initialize(
    coordinator: str, num_processes: int, process_id: int, *, what: str = "scoresde"
) -> None:
    """Join the `num_processes` processes through the coordinator at `coordinator`
    (`HOST:PORT`; process 0 runs it there): `jax.distributed.initialize` with the
    timeouts of [`timeouts`][]. If not every process has joined within the
    initialisation timeout, this process prints one line naming the address to
    stderr (prefixed by `what`) and exits with status 2; JAX's own failure there
    would be an abort with a C++ stack trace."""
    check_address(coordinator)
    if not 0 <= process_id < num_processes:
        raise ValueError(
            f"the process id must lie in 0..{num_processes - 1} for "
            f"{num_processes} processes, got {process_id}"
        )
    t = timeouts()
    _use_gloo()
    joined = threading.Event()

    def watchdog():
        if not joined.wait(t["init"]):
            print(
                f"{what}: error: process {process_id} could not join the coordinator "
                f"at {coordinator} within {t['init']} s: it is unreachable, or not "
                f"all {num_processes} processes were started "
                "($SCORESDE_INIT_TIMEOUT sets the wait)",
                file=sys.stderr,
                flush=True,
            )
            os._exit(2)

    threading.Thread(target=watchdog, daemon=True).start()
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        # JAX's own limit is later than ours, so that ours reports first.
        initialization_timeout=t["init"] + 30,
        heartbeat_timeout_seconds=t["heartbeat"],
        shutdown_timeout_seconds=t["shutdown"],
    )
    joined.set()


def detected_cluster() -> str | None:
    """The name of the cluster environment (SLURM, Open MPI, ...) that JAX's
    auto-detection finds with more than one process, or `None` (a plain run,
    or a one-process job)."""
    try:
        from jax._src import clusters

        for env in clusters.ClusterEnv._cluster_types:
            if getattr(env, "opt_in_only_method", False) or not env.is_env_present():
                continue
            if int(env.get_process_count()) > 1:
                return getattr(env, "name", env.__name__)
    except Exception:  # noqa: BLE001 - a private API: no detection when it moves
        return None
    return None


def auto_initialize(*, what: str = "scoresde") -> str | None:
    """Without process flags: join the processes of a detected cluster job (JAX's
    auto-detection, for SLURM and the like), with the same timeouts; a plain
    local run is left alone. Returns the cluster's name or `None`."""
    name = detected_cluster()
    if name is None:
        return None
    t = timeouts()
    _use_gloo()
    jax.distributed.initialize(
        initialization_timeout=t["init"],
        heartbeat_timeout_seconds=t["heartbeat"],
        shutdown_timeout_seconds=t["shutdown"],
    )
    return name


def is_main_process() -> bool:
    """Whether this is process 0, the one that writes files."""
    return jax.process_index() == 0


def to_host(x: Any) -> np.ndarray:
    """A NumPy copy of the global array `x` on every process (a collective when
    `x` spans several processes: every process must call it)."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def any_process(flag: dict[str, bool], key: str = "requested") -> bool:
    """`flag[key]`, made true in every process when it is true in any (a
    collective with several processes: every process calls it at the same
    point). Training asks it after each dispatch, so that a SIGTERM reaching the
    processes at slightly different times stops them all at the same step."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        flags = multihost_utils.process_allgather(np.asarray(bool(flag[key])))
        flag[key] = bool(np.any(flags))
    return flag[key]


def put(tree: Any, sharding: Sharding) -> Any:
    """`jax.device_put(tree, sharding)`, also when `sharding` spans devices of
    other processes: every process then holds the same `tree` and builds only
    its own devices' shards from it (`jax.make_array_from_callback`)."""
    if sharding.is_fully_addressable:
        return jax.device_put(tree, sharding)

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return jax.jit(lambda a: a, out_shardings=sharding)(x)  # already global
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = one(jax.random.key_data(x))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda i: host[i])

    return jax.tree_util.tree_map(one, tree)


def broadcast_from_main(tree: Any) -> Any:
    """Process 0's `tree` (arrays of the same shapes on every process), on every
    process; the identity in a one-process run."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    return multihost_utils.broadcast_one_to_all(tree)


def pad_by_repeats(tree: Any, total: int) -> Any:
    """Each array of `tree` (leading axes of one length n) repeated from its start
    to length `total` >= n: the padding of the last chunk, so that every chunk
    has one shape and compiles once. Repeated rows are duplicates of real ones,
    so a chunk's largest error (shared adaptive steps) is not changed."""

    def one(x):
        reps = -(-total // x.shape[0])
        return jnp.concatenate([x] * reps)[:total] if reps > 1 else x[:total]

    return jax.tree_util.tree_map(one, tree)


def default_mesh(mesh: Any, name: str = "mesh") -> Mesh:
    """`mesh`, checked, or a 1-D mesh over every device of every process."""
    if mesh is None:
        return Mesh(np.asarray(jax.devices()), ("data",))
    if not isinstance(mesh, Mesh) or "data" not in mesh.axis_names:
        raise ValueError(
            f"`{name}` must be a jax.sharding.Mesh with a 'data' axis (or None for "
            f"every device), got {mesh!r}."
        )
    return mesh

"""File-system mechanics of run directories: durable atomic writes (temporary
file, fsync, rename, fsync the directory) and the one-writer lock (`fcntl.flock`).
What is written, and in which format, is `_rundir.py`'s business."""

import contextlib
import os
import pathlib
import socket
import tempfile
from collections.abc import Iterator


class RunDirectoryInUseError(OSError):
    """Another live process holds the run directory's lock (one writer per run
    directory). The message names the holder (process id and host)."""


def _fsync_dir(directory: pathlib.Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _write_error(path: pathlib.Path, error: OSError, intact: str) -> OSError:
    reason = error.strerror or str(error)
    return OSError(error.errno, f"cannot write {path}: {reason}; {intact}")


def atomic_write(path: pathlib.Path, data: bytes, *, keep_previous: str = "") -> None:
    """Write `data` to `path` durably: a temporary file in the same directory,
    fsync, (optionally hard-link the old `path` to `keep_previous`), rename, fsync
    the directory. An `OSError` names `path`; the old file is left intact."""
    intact = f"the previous {path.name} is intact" if path.exists() else "nothing lost"
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=path.name + ".", suffix=".tmp", dir=path.parent
        )
    except OSError as e:
        raise _write_error(path, e, intact) from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and path.exists():
            _keep_copy(path, path.parent / keep_previous)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _write_error(path, e, intact) from e
        raise
    _fsync_dir(path.parent)


def _keep_copy(path: pathlib.Path, previous: pathlib.Path) -> None:
    """Make `previous` a durable copy of `path` (a hard link where possible)."""
    tmp = previous.with_name(previous.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(path, tmp)
    except OSError:  # no hard links on this file system: copy
        data = path.read_bytes()
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, previous)


def make_run_dir(run_dir: pathlib.Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(
            e.errno, f"cannot create the run directory {run_dir}: {e.strerror or e}"
        ) from e


@contextlib.contextmanager
def lock(run_dir: pathlib.Path) -> Iterator[None]:
    """Hold the run directory's writer lock (`fcntl.flock`, released by the OS
    when the process dies, so a killed holder never blocks). A second writer gets
    `RunDirectoryInUseError` naming the holder."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no locking
        yield
        return
    path = run_dir / "lock"  # _rundir.LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise OSError(
            e.errno, f"cannot create the lock file {path}: {e.strerror}"
        ) from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise RunDirectoryInUseError(
                f"{run_dir} is in use by another training process ({holder}); wait "
                "for it to finish or stop it, or choose another run directory."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on host {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock

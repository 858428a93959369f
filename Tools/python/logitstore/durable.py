"""POSIX file helpers for the commit protocol of Spec §6.1: fsync, atomic replace, advisory locks."""
import contextlib
import fcntl
import os

from .errors import IncompatibleStoreError, StoreError


class StoreIOError(StoreError, OSError):
    """A system call failed (open, write, fsync, rename, ...), naming the path and the operation."""


def io_error(path, operation, err):
    """A one-line StoreIOError for an OSError."""
    return StoreIOError(f"I/O error: {operation} {path}: {err.strerror or err}")


def fsync_directory(path):
    """fsync of a directory (makes a rename in it durable)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise io_error(path, "open directory", e) from None
    try:
        os.fsync(fd)
    except OSError as e:
        raise io_error(path, "fsync directory", e) from None
    finally:
        os.close(fd)


def write_atomically(directory, name, data):
    """Writes `<directory>/.<name>.<pid>.tmp`, fsyncs it, renames it over `<directory>/<name>`, fsyncs the directory."""
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    final = os.path.join(directory, name)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise io_error(tmp, "create", e) from None
    try:
        write_all(fd, data, tmp)
        os.fsync(fd)
    except OSError as e:
        os.close(fd)
        os.unlink(tmp)
        raise io_error(tmp, "fsync", e) from None
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.rename(tmp, final)
    except OSError as e:
        os.unlink(tmp)
        raise io_error(final, "rename", e) from None
    fsync_directory(directory)


def write_all(fd, data, path):
    """Writes every byte of `data` to `fd` (retrying short writes)."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError as e:
            raise io_error(path, "write", e) from None
        if n == 0:
            raise StoreIOError(f"I/O error: write {path}: no progress (device full?)")
        view = view[n:]


@contextlib.contextmanager
def directory_lock(directory):
    """Holds an exclusive advisory lock on `<directory>/.lock` (the manifest's read-modify-write)."""
    path = os.path.join(directory, ".lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise io_error(path, "open lock", e) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def writer_lock(directory, writer_id):
    """The fd of an exclusive, non-blocking lock on `.<writer_id>.writer-lock`; refused when a live writer holds it."""
    path = os.path.join(directory, f".{writer_id}.writer-lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise io_error(path, "open", e) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise IncompatibleStoreError(f"incompatible: writer id {writer_id} is in use by another live writer on {directory}") from None
    return fd

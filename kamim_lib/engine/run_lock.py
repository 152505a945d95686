"""One training process per run directory: an advisory ``flock`` on the run directory itself.

The lock is held on the directory's inode, which lives as long as the run folder: deleting a file (what people do
with "stale" locks) cannot defeat it, and the operating system releases it when the holder exits, even on SIGKILL,
so a stale lock cannot exist. ``<run_dir>/.lock`` only records who holds it (pid, host, start time, command) for
the message a second process gets. Where a directory cannot be locked (some network file systems emulate flock
with byte-range locks, which need a writable file), the ``.lock`` file itself is locked instead. Where ``fcntl``
is missing (Windows) runs are not locked.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_FILE = ".lock"
# flock errors that mean "held by someone else" (anything else: this file system cannot lock a directory).
_HELD = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


class RunLockedError(RuntimeError):
    """Another process is training in this run directory."""


class RunLock:
    """Exclusive lock of a run directory (a context manager).

    Args:
        directory: the run directory (created if needed).
    """

    def __init__(self, directory: str | os.PathLike):
        self.path = Path(directory) / LOCK_FILE
        self._handle: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`RunLockedError` naming the holder."""
        if fcntl is None or self._handle is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(handle)
            if error.errno in _HELD:
                self._refuse()
            handle = self._lock_the_file()
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": " ".join(sys.argv)[:500]}
        details = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.ftruncate(details, 0)
            os.write(details, json.dumps(holder).encode())
            os.fsync(details)
        finally:
            os.close(details)
        self._handle = handle

    def _lock_the_file(self) -> int:
        """Fallback where a directory cannot be flock'ed: lock the ``.lock`` file (deleting it defeats this one)."""
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)
            self._refuse()
        return handle

    def _refuse(self) -> None:
        try:
            raw = self.path.read_bytes()[:4096]
        except OSError:
            raw = b""
        raise RunLockedError(f"run directory {self.path.parent} is in use by {_describe_holder(raw)}; wait for that "
                             "run to end (it writes the same checkpoint and metrics) or stop it first, then run "
                             "this command again") from None

    def release(self) -> None:
        if self._handle is None:
            return
        try:
            with open(self.path, "r+") as details:  # the holder's details: nobody holds it any more
                details.truncate(0)
        except OSError:
            pass
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        os.close(self._handle)
        self._handle = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _describe_holder(raw: bytes) -> str:
    try:
        holder = json.loads(raw.decode())
        return f"process {holder['pid']} on host {holder['host']} (started {holder['started']}: {holder['command']})"
    except (ValueError, KeyError, UnicodeDecodeError):
        return f"another process (its details in {LOCK_FILE} are missing: not written yet, or the file was deleted)"

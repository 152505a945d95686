"""One training process per run directory: an advisory lock on ``<run_dir>/.lock``.

The lock is ``flock`` on an open file, so the operating system releases it when the holder exits, even on SIGKILL:
a stale lock cannot exist. The file records who holds it (pid, host, start time) for the message a second process
gets. Where ``fcntl`` is missing (Windows) runs are not locked.
"""
from __future__ import annotations

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
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _describe_holder(os.read(handle, 4096))
            os.close(handle)
            raise RunLockedError(f"run directory {self.path.parent} is in use by {holder}; wait for that run to end "
                                 "(it writes the same checkpoint and metrics) or stop it first, then run this "
                                 "command again") from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": " ".join(sys.argv)[:500]}
        os.ftruncate(handle, 0)
        os.write(handle, json.dumps(holder).encode())
        os.fsync(handle)
        self._handle = handle

    def release(self) -> None:
        if self._handle is None:
            return
        os.ftruncate(self._handle, 0)
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
        return "another process (it has not written its details yet)"

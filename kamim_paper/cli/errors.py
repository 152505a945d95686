"""How the `kamim` commands end: one message on stderr and an exit code, never a traceback for a user's mistake.

Exit codes (also in the README):

====  ==========================================================================================================
0     done
1     `kamim reproduce`: at least one section failed (each failure was named above)
2     bad input: configuration, profile, data, checkpoint, an output folder that cannot be written, a run in use,
      a broken KAMIM_PLUGINS module, out of memory (lower batch_size; the last checkpoint is intact)
3     training stopped on a non-finite loss (summary.json says where)
74    an output could not be written while running (disk full, permissions); the previous checkpoint is intact
75    stopped by SIGTERM / SIGUSR1 / SIGHUP after saving a checkpoint: run the same command again (requeue)
130   stopped by Ctrl-C (after saving a checkpoint when training); run the same command again to resume
====  ==========================================================================================================

``KAMIM_DEBUG=1`` (or true/yes/on) re-raises instead, for a full traceback; unset, empty, ``0``, false, no or off
mean off.
"""
from __future__ import annotations

import errno
import os
import sys

from kamim_lib.engine.preemption import EXIT_INTERRUPTED, EXIT_PREEMPTED

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NON_FINITE = 3
EXIT_IO = 74
# Values of KAMIM_DEBUG that leave debugging off (anything else turns it on).
_OFF = ("", "0", "false", "no", "off")

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_IO", "EXIT_NON_FINITE", "EXIT_PREEMPTED", "EXIT_USAGE",
           "describe_os_error", "run_reporting_errors"]


def debugging() -> bool:
    """Whether ``KAMIM_DEBUG`` asks for tracebacks (``KAMIM_DEBUG=0`` means off, like unset)."""
    return os.environ.get("KAMIM_DEBUG", "").strip().lower() not in _OFF


def describe_os_error(error: OSError) -> str:
    """``cannot write '/x/y': Permission denied`` and what to do."""
    target = f" {error.filename!r}" if error.filename else ""
    if error.errno == errno.ENOSPC:
        return f"no space left on the device{' for' + target if target else ''}; free some space or write elsewhere"
    reason = error.strerror or str(error)
    if error.strerror is None:
        return reason
    return f"cannot use{target}: {reason}; check the path and its permissions"


def _error_code_and_message(error: BaseException) -> tuple[int, str] | None:
    """Exit code and message for an error a user can cause; None for a bug (which keeps its traceback)."""
    from kamim_lib.checkpoint import CheckpointWriteError
    from kamim_lib.engine.preemption import TrainingInterrupted
    from kamim_lib.engine.run_lock import RunLockedError

    if isinstance(error, TrainingInterrupted):
        return error.exit_code, str(error)
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED, ("interrupted (Ctrl-C); run the same command again to resume from the last "
                                  "checkpoint")
    if isinstance(error, CheckpointWriteError):
        return EXIT_IO, str(error)
    if isinstance(error, (ValueError, FileNotFoundError, RunLockedError)):
        return EXIT_USAGE, str(error)
    if isinstance(error, OSError):
        return EXIT_IO, describe_os_error(error)
    return None


def run_reporting_errors(command: str, action) -> int:
    """``action()`` -> its exit code; a user error becomes one ``kamim COMMAND: ...`` line and its code."""
    try:
        return int(action() or 0)
    except BrokenPipeError:  # e.g. `kamim ... | head`: the reader left; nothing to report
        sys.stderr.close()
        return 0
    except (Exception, KeyboardInterrupt) as error:
        if debugging():
            raise
        outcome = _error_code_and_message(error)
        if outcome is None:
            raise
        code, message = outcome
        kind = "stopped" if code in (EXIT_PREEMPTED, EXIT_INTERRUPTED) else "error"
        print(f"kamim {command}: {kind}: {message}", file=sys.stderr)
        return code

"""The notebook kernel of `kamim reproduce`: its process output goes to a log, and Ctrl-C is passed on to it.

What a notebook's cells print is captured in the executed notebook. The kernel *process* writes elsewhere too (its
start-up warnings; tracebacks when it is shut down mid-request); :class:`KernelControl` launches it with that output
appended to ``<executed notebook>.kernel.log``. While a notebook runs, a first Ctrl-C is forwarded to the kernel as
SIGINT: training in the notebook saves a checkpoint at its next optimiser step and stops (see
:mod:`kamim_lib.engine.preemption`), any other cell stops with KeyboardInterrupt, and papermill then shuts the kernel
down cleanly. An idle kernel ignores SIGINT (papermill would then start the next cell), so while the notebook still
runs, SIGUSR1 follows every :data:`RESEND_SECONDS`: training treats it like the first signal, anything else ends. A
second Ctrl-C stops the runner at once. When several notebooks run at once (``--jobs``), the first Ctrl-C is passed to
every running kernel the same way (:func:`interrupt_running_kernels`).
"""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

RESEND_SECONDS = 2.0


class KernelControl:
    """One notebook's kernel: ``manager_class`` for papermill, and a context that forwards Ctrl-C to it.

    Args:
        log_path: file that receives the kernel process's stdout and stderr.
        env: variables set in the kernel's environment on top of this process's (e.g. ``--force``'s
            :data:`kamim_paper.evidence.cache.REMEASURE_ENV`).
    """

    def __init__(self, log_path: Path, env: dict[str, str] | None = None):
        self.log_path = log_path
        self.env = dict(env or {})
        self.kernel_pid: int | None = None
        self.interrupted = False
        self._previous = None
        self._done = threading.Event()

    @property
    def manager_class(self) -> type:
        """A ``jupyter_client`` kernel manager class bound to this control (papermill's ``kernel_manager_class``)."""
        from jupyter_client.manager import AsyncKernelManager

        control = self

        class LoggedKernelManager(AsyncKernelManager):
            async def _async_launch_kernel(self, kernel_cmd, **kw):
                control.log_path.parent.mkdir(parents=True, exist_ok=True)
                with open(control.log_path, "ab") as log:  # the kernel keeps its own copy of the descriptor
                    kw["stdout"] = kw.get("stdout") or log
                    kw["stderr"] = log
                    if control.env:
                        kw["env"] = {**(kw.get("env") or os.environ), **control.env}
                    await super()._async_launch_kernel(kernel_cmd, **kw)
                control.kernel_pid = getattr(self.provisioner, "pid", None)

        return LoggedKernelManager

    def _forward(self, signum, frame) -> None:
        if self.interrupted or not self.interrupt():
            raise KeyboardInterrupt  # a second Ctrl-C, or no kernel (yet): stop here and now

    def interrupt(self) -> bool:
        """Send the kernel SIGINT, then SIGUSR1 until the notebook returns; False when there is no kernel to
        interrupt (not started yet, or gone)."""
        if self.kernel_pid is None:
            return False
        self.interrupted = True
        try:
            os.kill(self.kernel_pid, signal.SIGINT)
        except OSError:
            return False
        threading.Thread(target=self._insist, daemon=True).start()
        return True

    def _insist(self) -> None:
        """Until the notebook returns, SIGUSR1 the kernel every RESEND_SECONDS (see the module docstring)."""
        while not self._done.wait(RESEND_SECONDS):
            try:
                os.kill(self.kernel_pid, signal.SIGUSR1)
            except OSError:
                return

    def __enter__(self) -> "KernelControl":
        self._done.clear()
        with _RUNNING_LOCK:
            _RUNNING.add(self)
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._forward)
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        with _RUNNING_LOCK:
            _RUNNING.discard(self)
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


# The kernels of the notebooks running now (several when `kamim reproduce --jobs N` runs them in threads, where no
# signal handler can be installed: the main thread catches Ctrl-C and calls interrupt_running_kernels).
_RUNNING: set[KernelControl] = set()
_RUNNING_LOCK = threading.Lock()


def interrupt_running_kernels() -> int:
    """:meth:`KernelControl.interrupt` every running notebook's kernel; returns how many were interrupted."""
    with _RUNNING_LOCK:
        controls = list(_RUNNING)
    return sum(1 for control in controls if not control.interrupted and control.interrupt())

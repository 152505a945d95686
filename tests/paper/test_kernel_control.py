"""The notebook kernels of `kamim reproduce`: Ctrl-C reaches every running kernel, one or several."""
import subprocess
import sys

from kamim_paper.runner import kernel_control
from kamim_paper.runner.kernel_control import KernelControl, interrupt_running_kernels

# A stand-in kernel: prints "ready", then reports the first signal it receives (SIGINT or SIGUSR1) and exits.
_KERNEL = """
import signal, sys, time
def report(signum, frame):
    print(signal.Signals(signum).name, flush=True)
    sys.exit(0)
signal.signal(signal.SIGINT, report)
signal.signal(signal.SIGUSR1, report)
print("ready", flush=True)
time.sleep(30)
"""


def _kernel():
    process = subprocess.Popen([sys.executable, "-c", _KERNEL], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


def test_every_running_kernel_gets_sigint_and_only_once(tmp_path):
    kernels = [_kernel(), _kernel()]
    controls = [KernelControl(tmp_path / f"{index}.log") for index in range(2)]
    try:
        for control, process in zip(controls, kernels):
            control.kernel_pid = process.pid
            control.__enter__()
        assert interrupt_running_kernels() == 2
        assert [process.stdout.readline().strip() for process in kernels] == ["SIGINT", "SIGINT"]
        assert all(control.interrupted for control in controls)
        assert interrupt_running_kernels() == 0  # already interrupted: not signalled again
    finally:
        for control in controls:
            control.__exit__(None, None, None)
        for process in kernels:
            process.kill()
            process.wait()
    assert not kernel_control._RUNNING  # a finished notebook leaves the registry


def test_a_kernel_not_started_yet_or_gone_cannot_be_interrupted(tmp_path):
    control = KernelControl(tmp_path / "k.log")
    with control:
        assert not control.interrupt() and interrupt_running_kernels() == 0
    process = _kernel()
    process.kill()
    process.wait()
    control.kernel_pid = process.pid
    assert not control.interrupt()  # the process is gone

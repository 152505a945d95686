import os

import pytest
import torch

# CI has 2 cores; several torch threads per test process only add contention.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def pytest_sessionstart(session):
    """Under torch_xla, start the XLA runtime before any test runs a backward pass.

    torch's autograd engine sizes its per-device queues at its first backward; if that happens on the CPU before
    the XLA device exists (e.g. a CPU reference run in an XLA test file), a later XLA backward in the same process
    fails with an internal assert. Touching the device first makes the order of test files irrelevant.
    """
    if os.environ.get("PJRT_DEVICE"):
        try:
            import torch_xla
        except ImportError:
            return
        torch_xla.device()

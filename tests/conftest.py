import os

import pytest
import torch

# CI has 2 cores; several torch threads per test process only add contention. Under pytest-xdist (tasks.py runs
# one worker per core) each worker keeps to one thread, and so do the processes its tests start (notebook kernels,
# training processes), which read OMP_NUM_THREADS: with torch's default of a thread per core, a kernel beside the
# other worker took the paper dry run's analyses 566 s instead of 330 s single-threaded alone (2-core VM).
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
else:
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

# XLA on the CPU (the XLA tests, and the worker processes they start, which inherit this): compiling the tests' tiny
# graphs is most of their time, and LLVM's optimisation passes are about half of each compile (measured: 39 -> 20 CPU
# seconds for xla_spmd_worker). Level 0 changes only the machine code of the CPU backend, not the HLO graphs, their
# sharding or what the tests compare. Read when the XLA runtime starts, so it must be set before that.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = " ".join(filter(None, [os.environ.get("XLA_FLAGS"),
                                                     "--xla_backend_optimization_level=0"]))


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


def pytest_configure(config):
    config.addinivalue_line("markers", "spmd_scenario(name): the test asserts on this scenario of the shared XLA "
                                       "SPMD worker (tests/xla_spmd_fits.py)")
    config.addinivalue_line("markers", "long: a test file that takes minutes; collected first, so that pytest-xdist "
                                       "starts it at once and the other worker runs the short files beside it")


def _spmd_scenarios(items) -> list[str]:
    return sorted({marker.args[0] for item in items for marker in item.iter_markers("spmd_scenario")})


def pytest_collection_modifyitems(config, items):
    """The order pytest-xdist hands out whole files in (tasks.py runs it with ``--dist loadfile
    --no-loadscope-reorder``, so this order is kept): the files marked ``long`` first, so that no minutes-long file
    starts last while the other worker idles; then the files with more tests first (xdist's own reordering, which
    would otherwise put the long files wherever their test count falls); each file's tests in their usual order.
    In the XLA half (one process) the tests that wait for the shared SPMD worker run last, so that the other XLA
    tests use the second core while the worker trains."""
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    rank = {path: (not any(item.get_closest_marker("long") for item in tests), -len(tests), position)
            for position, (path, tests) in enumerate(files.items())}
    items.sort(key=lambda item: (item.get_closest_marker("spmd_scenario") is not None,
                                 rank[item.nodeid.split("::")[0]]))


@pytest.fixture(scope="session")
def spmd_fits(request, tmp_path_factory):
    """ONE XLA SPMD worker process for the whole session, running the scenarios that the selected tests name with
    ``@pytest.mark.spmd_scenario(name)`` (see tests/xla_spmd_fits.py)."""
    from xla_spmd_fits import SpmdFits

    worker = SpmdFits(tmp_path_factory.mktemp("spmd_fits"), _spmd_scenarios(request.session.items))
    yield worker
    worker.close()


@pytest.fixture(scope="session", autouse=True)
def _start_the_spmd_worker_with_the_first_test(request):
    """Start ``spmd_fits`` before the session's first test (when any selected test needs it), not when the first
    test that waits for it comes up."""
    if _spmd_scenarios(request.session.items):
        request.getfixturevalue("spmd_fits")

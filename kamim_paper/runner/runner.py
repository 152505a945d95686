"""Execute the section notebooks with papermill, skipping finished ones and keeping every log."""
from __future__ import annotations

import ast
import hashlib
import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from kamim_lib.engine.run_dir import check_writable_folder
from kamim_lib.engine.run_lock import RunLock
from kamim_paper.evidence.cache import REMEASURE_ENV
from kamim_paper.locations import default_results_root, source_root
from kamim_paper.results.artifacts import make_section_outputs_portable, relative_to_repo
from kamim_paper.results.digest import is_digest_source, write_readme_digest
from kamim_paper.results.reproduced import compare_with_committed
from kamim_paper.results.reproduced import describe as describe_comparison
from kamim_paper.results.run_report import write_run_report
from kamim_paper.runner.catalogue import SECTIONS, Section, notebooks_dir, resolve_sections
from kamim_paper.runner.done_marker import read_done_marker, write_done_marker
from kamim_paper.runner.kernel_control import KernelControl, interrupt_running_kernels
from kamim_paper.runner.preflight import describe_problems, parameter_problem
from kamim_paper.runner.profiles import Profile, load_profile, valid_jobs
from kamim_paper.sections.params import SECTION_PARAMS, section_defaults

KERNEL_NAME = "python3"


@dataclass
class NotebookFailed(RuntimeError):
    """A notebook raised: which one, which cell, what, and where the executed notebook (the log) is."""

    section: str
    notebook: Path
    cell_index: int | None
    error: str
    executed: Path

    def __str__(self) -> str:
        cell = f"cell {self.cell_index}" if self.cell_index is not None else "before any cell ran"
        return (f"section '{self.section}' failed in {self.notebook.name}, {cell}: {self.error}\n"
                f"  executed notebook kept as the log: {self.executed}")


def declared_parameters(notebook: Path) -> dict:
    """``{name: default value}`` of the notebook's ``parameters`` cell, read with ``ast`` (papermill's own parser
    splits lines at ``=`` and cannot read a value such as ``["pretrain.num_workers=2"]``).

    Raises:
        ValueError: the notebook has no cell tagged ``parameters``, or a line of it is not ``name = literal``.
    """
    cells = json.loads(Path(notebook).read_text())["cells"]
    sources = ["".join(cell["source"]) for cell in cells if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if not sources:
        raise ValueError(f"{Path(notebook).name} has no cell tagged 'parameters'.")
    declared = {}
    for node in ast.parse(sources[0]).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"{Path(notebook).name}: the parameters cell may hold only `name = literal` lines, "
                             f"found {ast.unparse(node)!r}.")
        declared[node.targets[0].id] = ast.literal_eval(node.value)
    return declared


def parameters_for(section: Section, profile: Profile, notebook: Path, force: bool,
                   output_dir: Path | None = None) -> dict:
    """Every parameter of the notebook: the section's defaults (its ``Params``), the profile's values on top, and
    ``profile``, ``force`` and ``output_dir`` set.

    All of them are passed, not only the profile's: the notebook's own parameters cell holds the smoke profile's
    values (for "Run all" in Jupyter), which must not leak into another profile's run.

    Raises:
        ValueError: the profile's overrides for this section name a parameter the notebook does not declare
            (papermill would only warn and the value would be silently ignored).
    """
    declared = declared_parameters(notebook)
    overrides = profile.notebooks.get(section.name, {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ValueError(f"profile '{profile.name}', notebooks.{section.name}: unknown parameter(s) "
                         f"{', '.join(unknown)}; {notebook.name} declares: {', '.join(sorted(declared))}.")
    schema = SECTION_PARAMS.get(section.name)
    merged = {name: value for name, value in (section_defaults(schema) if schema else {}).items() if name in declared}
    merged.update({name: value for name, value in profile.parameters_for(section.name).items() if name in declared})
    fixed = {"profile": profile.label, "force": force}
    if output_dir is not None:
        fixed["output_dir"] = str(output_dir)
    for name, value in fixed.items():
        if name in declared:
            merged[name] = value
    return merged


def check_common_parameters(profile: Profile) -> None:
    """Every common parameter of the profile must be declared by at least one notebook of the catalogue.

    Raises:
        ValueError: naming the parameters no notebook declares (a typo would otherwise be silently ignored).
    """
    declared: set[str] = set()
    for section in SECTIONS:
        notebook = notebooks_dir() / section.notebook
        if notebook.is_file():
            declared |= set(declared_parameters(notebook))
    unknown = sorted(set(profile.parameters) - declared)
    if unknown:
        import difflib

        hints = [name + (f" (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(name, declared, 1))
                         else "") for name in unknown]
        raise ValueError(f"profile '{profile.name}': no notebook declares the parameter(s) {', '.join(hints)}.")


def _fingerprint(notebook: Path, parameters: dict) -> str:
    digest = hashlib.sha256(notebook.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def _quiet_papermill_parameter_parser() -> None:
    """Silence papermill's own reading of the parameters cell: it splits lines at ``=`` and so misreads a value such
    as ``["pretrain.num_workers=2"]``, then warns that the parameter is unknown. The runner has already checked
    every name against the cell with ``ast`` (:func:`declared_parameters`), so both messages would only mislead."""
    logging.getLogger("papermill.translators").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Passed unknown parameter")
    # papermill 2.7 logs it on its package logger ("papermill", papermill/log.py) instead of warning; its other
    # messages stay.
    execute_logger = logging.getLogger("papermill")
    if not any(isinstance(item, _UnknownParameterFilter) for item in execute_logger.filters):
        execute_logger.addFilter(_UnknownParameterFilter())


class _UnknownParameterFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passed unknown parameter")


def run_notebook(section: Section, notebook: Path, parameters: dict, out_dir: Path, *, force: bool = False,
                 remeasure_since: float | None = None) -> str:
    """Execute one notebook into ``out_dir/notebooks/``; returns "ran" or "skipped".

    A finished notebook (its done-marker matches the notebook and parameters) is skipped unless ``force``.
    With ``force`` the notebook's cached measurements (:mod:`kamim_paper.evidence.cache`) made before
    ``remeasure_since`` (a Unix time; default: now) are measured again: the kernel gets
    :data:`~kamim_paper.evidence.cache.REMEASURE_ENV` (one forced reproduction passes its start, so that its
    notebooks share what it measured).
    Done-markers are local to a checkout (git ignores them): where none exists, e.g. in a fresh clone whose
    committed results/ holds summaries from elsewhere, the notebook runs with ``force=True`` so that its tables and
    figures are recomputed rather than redrawn from those summaries. Training is never repeated by ``force``:
    finished runs are found by run id.

    Raises:
        NotebookFailed: a cell raised; the partially executed notebook is kept.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _quiet_papermill_parameter_parser()
    executed = out_dir / "notebooks" / notebook.name
    marker = executed.with_suffix(".done.json")
    # `force` changes what a notebook recomputes, not what it computes: it is left out of the fingerprint.
    fingerprint = _fingerprint(notebook, {k: v for k, v in parameters.items() if k != "force"})
    done = read_done_marker(marker)
    if not force and done is not None and done.get("fingerprint") == fingerprint:
        return "skipped"
    if "force" in parameters and done is None:
        parameters = {**parameters, "force": True}
    executed.parent.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    start = time.monotonic()
    env = {}
    if force:
        env[REMEASURE_ENV] = repr(time.time() if remeasure_since is None else remeasure_since)
    kernel = KernelControl(executed.with_suffix(".kernel.log"), env=env)
    try:
        with kernel:  # Ctrl-C goes to the kernel: training checkpoints, then the cell stops
            papermill.execute_notebook(str(notebook), str(executed), parameters=parameters,
                                       kernel_name=KERNEL_NAME, progress_bar=False, cwd=str(notebook.parent),
                                       kernel_manager_class=kernel.manager_class)
    except PapermillExecutionError as error:
        if kernel.interrupted or error.ename in ("KeyboardInterrupt", "TrainingInterrupted"):
            raise KeyboardInterrupt from None
        raise NotebookFailed(section.name, notebook, error.cell_index, f"{error.ename}: {error.evalue}",
                             executed) from None
    except Exception as error:  # kernel died, notebook unreadable, ...: still name the notebook
        if kernel.interrupted:  # the kernel did not survive the forwarded Ctrl-C (e.g. still starting)
            raise KeyboardInterrupt from None
        raise NotebookFailed(section.name, notebook, None, f"{type(error).__name__}: {error}", executed) from error
    # Parameters repository-relative like every other output (the fingerprint alone decides what is stale).
    write_done_marker(marker, {"fingerprint": fingerprint, "parameters": relative_to_repo(parameters),
                               "seconds": round(time.monotonic() - start, 1)})
    return "ran"


def reproduce(profile: str | Profile, *, only: list[str] | None = None, force: bool = False,
              out_dir: Path | None = None, log=print, jobs: int | None = None) -> list[NotebookFailed]:
    """Run the selected sections of a profile in dependency order.

    A failed section does not stop the others, except those that need it; what finished stays finished.

    Args:
        jobs: how many notebooks run at once (None: the profile's ``jobs``). With more than one, a section starts
            as soon as every section it needs has finished and a slot is free; sections that share training runs
            name each other in ``needs``, so no two notebooks ever train the same run. The profile's ``heavy``
            sections (those whose training keeps every core busy) run one at a time; the others fill the free
            slots beside them (on the 2-core machine a one-core notebook beside a training one slowed the training
            by about 40 % of the notebook's own time, where two training notebooks at once gained nothing).

    Returns:
        The failures (empty when everything ran or was already done).
    """
    profile = profile if isinstance(profile, Profile) else load_profile(profile)
    jobs = check_jobs(profile.jobs if jobs is None else jobs)
    # Absolute: the notebooks run with notebooks/ as their working directory.
    out_dir = (Path(out_dir).expanduser() if out_dir else default_results_root() / profile.name).absolute()
    sections = resolve_sections(only)
    # Check every notebook's parameters before running anything: a typo should not cost a long run. Every problem
    # is collected and reported together.
    plans, problems = [], []
    try:
        check_common_parameters(profile)
    except ValueError as error:
        problems.append((None, None, str(error)))
    for section in sections:
        notebook = notebooks_dir() / section.notebook
        if not notebook.is_file():
            raise ValueError(f"section '{section.name}': notebook {notebook} is missing.")
        try:
            parameters = parameters_for(section, profile, notebook, force, out_dir)
        except ValueError as error:
            problems.append((section, notebook, str(error)))
            continue
        problem = parameter_problem(section, parameters, profile.origins_for(section.name))
        if problem is not None:
            problems.append((section, notebook, problem))
        plans.append((section, notebook, parameters))
    if problems:
        raise ValueError(describe_problems(profile.name, problems))
    check_writable_folder(out_dir, "--out-dir")
    installed = "" if source_root() is not None else f" (the installed package's notebooks: {notebooks_dir()})"
    log(f"profile '{profile.name}': {len(plans)} section(s), writing to {out_dir}{installed}")
    total_start = time.monotonic()
    state = _RunState(plans, out_dir, force, log)
    # One `kamim reproduce` per --out-dir: two would execute the same notebooks into the same files.
    with RunLock(out_dir):
        _run_all(state, plans, jobs, profile, log)
    elapsed = time.monotonic() - total_start
    log(f"profile '{profile.name}': {outcome_counts(state.outcome)}, elapsed {elapsed:.0f} s; outputs in {out_dir}")
    comparison = compare_with_committed(out_dir)
    log(describe_comparison(comparison))
    write_run_report(out_dir, profile.name, state.outcome, state.seconds, elapsed, comparison)
    if not state.failed and is_digest_source(out_dir, profile.name):
        log(write_readme_digest(out_dir))
    return list(state.failed.values())


def _run_all(state: "_RunState", plans: list, jobs: int, profile: Profile, log) -> None:
    """Run every plan (one at a time, or ``jobs`` at once); on Ctrl-C say how to resume."""
    try:
        if jobs == 1:
            for plan in plans:
                if state.blocked(plan[0]) is None:
                    state.run(plan)
        else:
            _run_concurrently(state, jobs, heavy=set(profile.heavy))
    except KeyboardInterrupt:
        running = ", ".join(state.running)
        log(f"interrupted{f' while running {running}' if running else ''}; "
            f"{outcome_counts(state.outcome)}. Run the same command again to resume: finished sections are skipped "
            "and training resumes from its last checkpoint.")
        raise


def check_jobs(jobs) -> int:
    """``jobs`` as an int >= 1 (ValueError naming the fix otherwise)."""
    if not valid_jobs(jobs):
        raise ValueError(f"jobs must be an int >= 1 (notebooks run at once), got {jobs!r}; e.g. --jobs 2.")
    return jobs


class _RunState:
    """The sections of one ``reproduce`` call: what ran, failed or runs now, and how one section is run and logged.
    Only the calling thread changes it (worker threads only execute :func:`run_notebook`)."""

    def __init__(self, plans: list, out_dir: Path, force: bool, log):
        self.plans, self.out_dir, self.force, self.log = plans, out_dir, force, log
        # --force: cached measurements older than this reproduction are measured again (once, then shared).
        self.remeasure_since = time.time() if force else None
        self.index = {plan[0].name: number for number, plan in enumerate(plans, 1)}
        self.outcome = {plan[0].name: "not run" for plan in plans}
        self.failed: dict[str, NotebookFailed] = {}
        self.running: list[str] = []
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}  # wall time of each section that ran or was skipped
        self.settled: set[str] = set()  # finished, failed or left out
        self.left_out: set[str] = set()  # not run because a section they need failed or was left out

    def prefix(self, section: Section, notebook: Path | None = None) -> str:
        name = notebook.name if notebook is not None else section.notebook
        return f"[{self.index[section.name]}/{len(self.plans)}] {section.name} ({name})"

    def ready(self, section: Section) -> bool:
        """Whether every section ``section`` needs (among those planned) has finished, failed or been left out."""
        return all(need not in self.index or need in self.settled for need in section.needs)

    def blocked(self, section: Section) -> list[str] | None:
        """The sections ``section`` needs that failed or were not run (logged; ``section`` is then not run
        either), or None when nothing blocks it."""
        blocked = [need for need in section.needs if need in self.failed or need in self.left_out]
        if blocked:
            self.log(f"{self.prefix(section)}: not run, it needs {', '.join(blocked)} which "
                     f"{'failed' if all(need in self.failed for need in blocked) else 'failed or did not run'}")
            self.left_out.add(section.name)
            self.settled.add(section.name)
            return blocked
        return None

    def start(self, section: Section, notebook: Path) -> None:
        self.log(f"{self.prefix(section, notebook)}: running ...")
        self.running.append(section.name)
        self.started[section.name] = time.monotonic()

    def finish(self, section: Section, notebook: Path, status: str | NotebookFailed) -> None:
        self.running.remove(section.name)
        self.settled.add(section.name)
        self.seconds[section.name] = round(time.monotonic() - self.started[section.name], 1)
        prefix = self.prefix(section, notebook)
        if isinstance(status, NotebookFailed):
            self.failed[section.name] = status
            self.outcome[section.name] = "failed"
            self.log(f"{prefix}: FAILED\n  {status}")
            return
        self.outcome[section.name] = "ok"
        make_section_outputs_portable(self.out_dir, section.name, notebook.name)
        word = "already done, skipped (use --force to re-run)" if status == "skipped" else "done"
        self.log(f"{prefix}: {word} in {time.monotonic() - self.started[section.name]:.0f} s")

    def execute(self, plan) -> str | NotebookFailed:
        section, notebook, parameters = plan
        try:
            since = {} if self.remeasure_since is None else {"remeasure_since": self.remeasure_since}
            return run_notebook(section, notebook, parameters, self.out_dir, force=self.force, **since)
        except NotebookFailed as failure:
            return failure

    def run(self, plan) -> None:
        self.start(plan[0], plan[1])
        self.finish(plan[0], plan[1], self.execute(plan))


def _run_concurrently(state: _RunState, jobs: int, heavy: set[str] = frozenset()) -> None:
    """Up to ``jobs`` notebooks at once, each in a thread (a notebook is a kernel process: the threads only wait).

    A section starts once every section it needs is done; one whose needs failed is not run; a section in
    ``heavy`` waits while another heavy one runs (the free slot goes to the next section that is not heavy). Ctrl-C
    is passed to every running kernel (each saves a checkpoint and stops), then raised here once they have returned.
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pending = list(state.plans)
    futures = {}
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="notebook") as pool:
        try:
            while pending or futures:
                for plan in list(pending):
                    if len(futures) >= jobs:
                        break
                    if not state.ready(plan[0]):
                        continue  # a section it needs has not finished yet
                    if plan[0].name in heavy and heavy.intersection(state.running):
                        continue  # one heavy section at a time
                    pending.remove(plan)
                    if state.blocked(plan[0]) is None:
                        state.start(plan[0], plan[1])
                        futures[pool.submit(state.execute, plan)] = plan
                if not futures:
                    if pending:  # cannot happen with the catalogue's order; never spin
                        raise RuntimeError(f"sections {[plan[0].name for plan in pending]} wait on each other.")
                    break
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    plan = futures.pop(future)
                    state.finish(plan[0], plan[1], future.result())
        except KeyboardInterrupt:
            interrupt_running_kernels()
            for future in list(futures):
                try:
                    future.result()
                except (KeyboardInterrupt, Exception):  # each notebook stops at its next checkpoint
                    pass
            raise


def outcome_counts(outcome: dict[str, str]) -> str:
    """``"1 ok, 3 failed, 6 not run (of 10 sections)"`` from ``{section: "ok" | "failed" | "not run"}``."""
    counts = {word: sum(1 for value in outcome.values() if value == word) for word in ("ok", "failed", "not run")}
    return (f"{counts['ok']} ok, {counts['failed']} failed, {counts['not run']} not run "
            f"(of {len(outcome)} sections)")

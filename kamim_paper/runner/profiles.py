"""Params profiles (``params/<name>.yaml``) consumed by `kamim reproduce` and by the notebooks themselves.

A profile file holds:

    description: what it is for and what it needs (a data root, a GPU, ...)
    parameters:  papermill parameters given to every notebook (only names that notebook declares are passed)
    notebooks:   {section: {parameter: value}} per-notebook overrides; names must exist in that notebook
                 (an unknown section or parameter name is an error with the closest match, never silently dropped)
    jobs:        how many notebooks `kamim reproduce` runs at once (default 1; ``--jobs`` overrides it)
    heavy:       sections that keep every core busy (their training): with jobs > 1, at most one of them runs at a
                 time and the other sections fill the remaining slots beside it (default: none)

A profile is a name (``params/<name>.yaml``) or the path of any YAML file: a file outside ``params/`` is passed to
the notebooks by its absolute path (:attr:`Profile.label`), so its name need not match a built-in profile.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from kamim_lib.config import split_override
from kamim_lib.config.coerce import describe_yaml_error
from kamim_paper.runner.catalogue import SECTIONS
# Where params/ is (a checkout's, or the copy an installed wheel ships); re-exported here.
from kamim_paper.locations import list_profiles, params_dir  # noqa: F401
from kamim_paper.sections.params import SECTION_PARAMS

PROFILE_KEYS = ("description", "parameters", "notebooks", "jobs", "heavy")


def valid_jobs(jobs) -> bool:
    """Whether ``jobs`` (notebooks run at once) is an int >= 1 (a bool is not)."""
    return isinstance(jobs, int) and not isinstance(jobs, bool) and jobs >= 1


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    parameters: dict = field(default_factory=dict)
    notebooks: dict = field(default_factory=dict)
    jobs: int = 1
    heavy: tuple[str, ...] = ()
    path: Path | None = None
    # The parameters given on the command line (``kamim reproduce --set``), for messages that say where a value
    # came from.
    from_command_line: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """What the notebooks are given as ``profile``: the name of a profile in ``params/``, else the absolute path
        of its file (the notebooks accept any ``*.yaml`` / ``*.yml`` path; their outputs are named by its stem)."""
        if self.path is None or self.path.resolve() == (params_dir() / f"{self.name}.yaml").resolve():
            return self.name
        return str(self.path.resolve())

    def parameters_for(self, section: str) -> dict:
        """Common parameters with this section's overrides on top."""
        return {**self.parameters, **self.notebooks.get(section, {})}

    def origins_for(self, section: str) -> dict[str, str]:
        """Where each parameter this profile gives ``section`` came from: ``--set``, the file's block for the
        notebook, or its common parameters (the section's defaults are not named)."""
        source = self.label if self.path is None or self.label != self.name else f"params/{self.name}.yaml"
        origins = {name: f"{source}, parameters" for name in self.parameters}
        origins.update({name: f"{source}, notebooks.{section}" for name in self.notebooks.get(section, {})})
        origins.update({name: "kamim reproduce --set" for name in self.from_command_line})
        return origins

    def with_overrides(self, assignments: list[str]) -> "Profile":
        """A copy whose common parameters are updated by ``NAME=VALUE`` strings (VALUE parsed as YAML).

        Command-line values win over the profile's per-notebook values too, so they are also applied there.

        Raises:
            ValueError: an assignment without ``=``.
        """
        updates = {}
        for assignment in assignments:
            command, name, text = split_override(assignment, where="kamim reproduce --set")
            if command is not None:
                raise ValueError(f"--set {assignment!r}: notebook parameters take no command prefix; a profile's "
                                 f"train_overrides carry <command>.key=value (e.g. --set 'train_overrides="
                                 f"[\"{command}.{name}={text}\"]').")
            try:
                updates[name.strip()] = yaml.safe_load(text) if text.strip() else None
            except yaml.YAMLError as error:
                raise ValueError(f"--set {assignment!r}: the value is not valid YAML ({describe_yaml_error(error)}); "
                                 "quote strings that contain ':' or brackets, e.g. --set 'name=\"a: b\"'") from None
        if not updates:
            return self
        notebooks = {section: {**values, **{k: v for k, v in updates.items() if k in values}}
                     for section, values in self.notebooks.items()}
        return replace(self, parameters={**self.parameters, **updates}, notebooks=notebooks,
                       from_command_line=tuple(dict.fromkeys((*self.from_command_line, *updates))))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load ``params/<name>.yaml`` (or a path to a YAML file).

    Raises:
        ValueError: unknown profile name, or a top-level key that a profile does not have.
    """
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = params_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ValueError(f"profile {str(name_or_path)!r} not found (looked for {path}); available profiles: "
                         f"{', '.join(list_profiles()) or 'none'}.")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"profile {str(path)!r} is not valid YAML: {describe_yaml_error(error)}; fix the file.") \
            from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a profile must be a YAML mapping with keys {', '.join(PROFILE_KEYS)}.")
    problems = []
    unknown = sorted(set(data) - set(PROFILE_KEYS), key=str)
    if unknown:
        problems.append(f"unknown top-level key(s) {_with_close_matches(unknown, PROFILE_KEYS)}; allowed: "
                        f"{', '.join(PROFILE_KEYS)}")
    for key in ("parameters", "notebooks"):
        if not isinstance(data.get(key) or {}, dict):
            problems.append(f"'{key}' must be a mapping")
    jobs = data.get("jobs", 1)
    if not valid_jobs(jobs):
        problems.append(f"'jobs' must be an int >= 1 (how many notebooks run at once), got {jobs!r}")
    heavy = data.get("heavy") or []
    section_names = [section.name for section in SECTIONS]
    if not isinstance(heavy, list) or any(name not in section_names for name in heavy):
        wrong = [name for name in heavy if name not in section_names] if isinstance(heavy, list) else []
        problems.append(f"'heavy' must be a list of section names ({', '.join(section_names)}), got {heavy!r}"
                        + (f": {_with_close_matches(wrong, section_names)}" if wrong else ""))
    notebooks = data.get("notebooks") or {}
    if isinstance(notebooks, dict):
        problems += notebook_override_problems(notebooks)
    if problems:
        raise ValueError(f"{path}: " + ("; ".join(problems) if len(problems) == 1 else
                                        f"{len(problems)} problems:\n  - " + "\n  - ".join(problems)) + ".")
    return Profile(name=path.stem, description=str(data.get("description", "")).strip(),
                   parameters=dict(data.get("parameters") or {}), notebooks={name: dict(values or {}) for name, values in notebooks.items()},
                   jobs=jobs, heavy=tuple(heavy), path=path)


def _with_close_matches(names, allowed) -> str:
    """``'a' (did you mean 'b'?), 'c'``."""
    allowed = [str(name) for name in allowed]
    words = []
    for name in names:
        close = difflib.get_close_matches(str(name), allowed, n=1)
        words.append(repr(name) + (f" (did you mean {close[0]!r}?)" if close else ""))
    return ", ".join(words)


def notebook_override_problems(notebooks: dict) -> list[str]:
    """What is wrong with a profile's ``notebooks:`` mapping: sections the catalogue does not have, entries that are
    not mappings, and parameters the section's notebook does not declare (its ``Params`` fields), each with the
    closest match. Every problem is listed, not only the first."""
    problems = []
    section_names = [section.name for section in SECTIONS]
    unknown = [name for name in notebooks if name not in section_names]
    if unknown:
        problems.append(f"notebooks: unknown section(s) {_with_close_matches(unknown, section_names)}; the "
                        f"sections are: {', '.join(section_names)}")
    for name, overrides in notebooks.items():
        if name not in section_names:
            continue
        if not isinstance(overrides or {}, dict):
            problems.append(f"notebooks.{name} must be a mapping of parameter: value, got {overrides!r}")
            continue
        schema = SECTION_PARAMS.get(name)
        if schema is None:
            continue
        declared = [field.name for field in dataclasses.fields(schema)]
        wrong = [key for key in (overrides or {}) if key not in declared]
        if wrong:
            problems.append(f"notebooks.{name}: unknown parameter(s) {_with_close_matches(wrong, declared)}; this "
                            f"notebook's parameters are: {', '.join(declared)}")
    return problems

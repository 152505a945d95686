"""Params profiles (``params/<name>.yaml``) consumed by `kamim reproduce` and by the notebooks themselves.

A profile file holds:

    description: what it is for and what it needs (a data root, a GPU, ...)
    parameters:  papermill parameters given to every notebook (only names that notebook declares are passed)
    notebooks:   {section: {parameter: value}} per-notebook overrides; names must exist in that notebook
    jobs:        how many notebooks `kamim reproduce` runs at once (default 1; ``--jobs`` overrides it)
    heavy:       sections that keep every core busy (their training): with jobs > 1, at most one of them runs at a
                 time and the other sections fill the remaining slots beside it (default: none)
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from kamim_lib.config import split_override
from kamim_lib.config.coerce import describe_yaml_error
from kamim_paper.runner.catalogue import SECTIONS

PROFILE_KEYS = ("description", "parameters", "notebooks", "jobs", "heavy")


def valid_jobs(jobs) -> bool:
    """Whether ``jobs`` (notebooks run at once) is an int >= 1 (a bool is not)."""
    return isinstance(jobs, int) and not isinstance(jobs, bool) and jobs >= 1


def params_dir() -> Path:
    """The repository's ``params/`` folder (next to the package)."""
    return Path(__file__).resolve().parents[2] / "params"


def list_profiles() -> list[str]:
    return sorted(path.stem for path in params_dir().glob("*.yaml"))


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    parameters: dict = field(default_factory=dict)
    notebooks: dict = field(default_factory=dict)
    jobs: int = 1
    heavy: tuple[str, ...] = ()

    def parameters_for(self, section: str) -> dict:
        """Common parameters with this section's overrides on top."""
        return {**self.parameters, **self.notebooks.get(section, {})}

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
        return replace(self, parameters={**self.parameters, **updates}, notebooks=notebooks)


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
    unknown = sorted(set(data) - set(PROFILE_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; allowed: {', '.join(PROFILE_KEYS)}.")
    for key in ("parameters", "notebooks"):
        if not isinstance(data.get(key, {}), dict):
            raise ValueError(f"{path}: '{key}' must be a mapping.")
    jobs = data.get("jobs", 1)
    if not valid_jobs(jobs):
        raise ValueError(f"{path}: 'jobs' must be an int >= 1 (how many notebooks run at once), got {jobs!r}.")
    heavy = data.get("heavy") or []
    section_names = [section.name for section in SECTIONS]
    if not isinstance(heavy, list) or any(name not in section_names for name in heavy):
        raise ValueError(f"{path}: 'heavy' must be a list of section names ({', '.join(section_names)}), "
                         f"got {heavy!r}.")
    return Profile(name=path.stem, description=str(data.get("description", "")).strip(),
                   parameters=dict(data.get("parameters") or {}), notebooks=dict(data.get("notebooks") or {}),
                   jobs=jobs, heavy=tuple(heavy))

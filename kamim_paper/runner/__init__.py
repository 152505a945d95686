"""`kamim reproduce`: run the paper's notebooks through papermill for a params profile."""
from kamim_paper.runner.catalogue import SECTIONS, Section, notebooks_dir, resolve_sections
from kamim_paper.runner.profiles import Profile, list_profiles, load_profile, params_dir
from kamim_paper.runner.runner import NotebookFailed, reproduce, run_notebook

__all__ = ["SECTIONS", "Section", "notebooks_dir", "resolve_sections", "Profile", "list_profiles", "load_profile",
           "params_dir", "NotebookFailed", "reproduce", "run_notebook"]

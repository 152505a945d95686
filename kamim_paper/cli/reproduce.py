"""`kamim reproduce`: regenerate the paper's tables and figures by running the notebooks with papermill."""
from __future__ import annotations

import argparse
from pathlib import Path

# Both are light (no torch): the parser lists the sections and profiles. The runner is imported when it runs.
from kamim_paper.locations import list_profiles
from kamim_paper.runner.catalogue import SECTIONS


def register(subparsers) -> None:
    sections = ", ".join(section.name for section in SECTIONS)
    parser = subparsers.add_parser(
        "reproduce", help="run the paper's notebooks for a params profile (papermill)",
        description="Run the section notebooks in dependency order for params/<profile>.yaml. Executed notebooks, "
                    "tables and figures go to results/<profile>/ (in a source checkout its committed results/; with "
                    "an installed package, ./results/<profile>/ under the current directory). Finished sections are skipped and unfinished "
                    "training resumes; --force re-runs.")
    parser.add_argument("--profile", default="smoke",
                        help=f"profile name in params/ ({', '.join(list_profiles()) or 'none yet'}) or a YAML path")
    parser.add_argument("--only", nargs="+", metavar="SECTION", help=f"run only these sections (and what they "
                        f"need): {sections}")
    parser.add_argument("--force", action="store_true",
                        help="re-run finished sections and evaluations, and measure cached measurements again")
    parser.add_argument("--out-dir", type=Path, default=None, help="default: results/<profile>/ of the checkout, or "
                        "./results/<profile>/ for an installed package (the first line of output says which)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="notebooks run at once (default: the profile's jobs, else 1); a section still waits for "
                             "the sections it needs, and the profile's heavy sections run one at a time")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override a profile parameter for every notebook that declares it (VALUE is parsed as "
                             "YAML), e.g. --set data_root=/data/imagenet --set device=cuda; repeatable")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import importlib.util

    missing = [name for name in ("papermill", "ipykernel") if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(f"it runs the notebooks with papermill and an IPython kernel ({', '.join(missing)} not "
                         "installed): pip install 'kamim[notebooks]' (or, in a checkout, pip install -e "
                         "'.[notebooks]').")
    from kamim_paper.runner.profiles import load_profile
    from kamim_paper.runner.runner import reproduce

    profile = load_profile(args.profile).with_overrides(args.overrides)
    failures = reproduce(profile, only=args.only, force=args.force, out_dir=args.out_dir, jobs=args.jobs)
    return 1 if failures else 0

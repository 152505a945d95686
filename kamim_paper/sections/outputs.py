"""What a section's ``compute(params)`` returns, and how its tables, figures and sentences reach both the notebook
and the section's output folder.

A notebook step is one call, e.g. ``pretrain.evidence_table(result)``: the call writes the table under
``<output_dir>/tables/`` and returns it as :class:`Markdown`, which Jupyter renders as a table and papermill keeps in
the executed notebook. Figures are saved under ``<output_dir>/figures/`` and returned, so the notebook shows them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from kamim_paper.results.figures.plots import save_figure
from kamim_paper.runner.parameters import notebook_parameters


class Markdown(str):
    """A string that Jupyter renders as Markdown (``_repr_markdown_``) and that prints as itself elsewhere."""

    def _repr_markdown_(self) -> str:
        return str(self)


# What the evidence steps show when a run has no paired comparison (e.g. the paper profiles train once).
NO_EVIDENCE = Markdown("Paired evidence needs methods simmim and kamim and at least 2 seeds.")


def has_paired_evidence(params) -> bool:
    """Whether a training section can compare KAMIM with SimMIM on paired seeds: both methods, at least 2 seeds."""
    return {"simmim", "kamim"} <= set(params.methods) and len(params.seeds) >= 2


@dataclass(frozen=True)
class SectionResult:
    """One section's computed numbers and where its outputs go.

    Attributes:
        name: the section (``pretrain``, ``linprobe``, ...).
        params: the validated parameters it was computed with.
        out_dir: the profile's output folder (``results/<profile>/`` under `kamim reproduce`,
            ``runs/notebooks/<profile>/`` when run by hand).
        summary: what ``<out_dir>/<name>/summary.json`` holds.
        arrays: what ``<out_dir>/<name>/arrays.npz`` holds, if the section keeps arrays.
    """

    name: str
    params: object
    out_dir: Path
    summary: dict
    arrays: dict | None = None

    def __getitem__(self, key: str):
        return self.summary[key]

    def write_table(self, stem: str, text: str) -> Markdown:
        """Write ``<out_dir>/tables/<stem>.md`` and return it for display."""
        path = self.out_dir / "tables" / f"{stem}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return Markdown(text)

    def save_figure(self, figure: Figure, stem: str) -> Figure:
        """Save ``<out_dir>/figures/<stem>.png`` and return the figure for display."""
        save_figure(figure, self.out_dir / "figures" / f"{stem}.png")
        return figure


def bullet_lines(lines: list[str]) -> Markdown:
    """Generated conclusions as a Markdown list (one sentence per line)."""
    return Markdown("\n".join(f"- {line}" for line in lines))


def parameters_of(schema: type):
    """A section's ``parameters(namespace)``: the notebook's globals after its parameters cell, validated against
    ``schema`` (unknown or mistyped names, wrong types and broken invariants are all reported by name)."""

    def parameters(namespace: dict):
        return notebook_parameters(namespace, schema)

    parameters.__doc__ = f"The notebook's parameters as a validated :class:`{schema.__name__}`."
    return parameters

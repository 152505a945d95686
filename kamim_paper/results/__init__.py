"""The one results room of the companion: where a section's numbers are stored (:mod:`.summaries`,
:mod:`.artifacts`), how they are shown (:mod:`.tables`, :mod:`.figures`), the sentences generated from them
(:mod:`.sentences`, :mod:`.conclusions`), the labels they show (:mod:`.labels`), the paper's and its peers'
published numbers (:mod:`.published`) and the README digest (:mod:`.digest`). Provenance (:func:`kamim_lib.provenance.provenance`) is the library's."""
from kamim_lib.provenance import provenance
from kamim_paper.results.published import PAPER_CLASSIFICATION, paper_value
from kamim_paper.results.tables.markdown import comparison_table, format_number, markdown_table

__all__ = ["PAPER_CLASSIFICATION", "paper_value", "provenance", "comparison_table", "format_number",
           "markdown_table"]

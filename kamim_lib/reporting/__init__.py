"""Tables and provenance: this project's numbers beside the paper's (SPEC §2), with where they came from."""
from kamim_lib.reporting.paper_numbers import PAPER_CLASSIFICATION, paper_value
from kamim_lib.reporting.provenance import provenance
from kamim_lib.reporting.tables import comparison_table, format_number, markdown_table

__all__ = ["PAPER_CLASSIFICATION", "paper_value", "provenance", "comparison_table", "format_number",
           "markdown_table"]

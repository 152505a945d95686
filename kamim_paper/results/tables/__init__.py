"""Markdown tables: this project's numbers beside the paper's, with provenance underneath."""

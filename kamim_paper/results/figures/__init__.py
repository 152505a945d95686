"""The figures of the sections, drawn only from what the sections wrote (summaries and arrays)."""

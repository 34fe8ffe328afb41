"""Error types of data_prep.

`DataPrepError` stops a build (bad arguments, unknown source shape, missing column) and its message
says how to fix it. `RowError` rejects one input row; the pipeline records it in the report with the
file and row number and carries on, so no row is ever dropped silently.
"""


class DataPrepError(Exception):
    """A build-level error shown to the user; the message names the file/column/option at fault."""


class RowError(Exception):
    """One malformed input row (or one response of a row); recorded in the report, never fatal."""

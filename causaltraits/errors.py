"""User-facing error types.

Anything a user can cause (a missing file, a bad column, an alpha outside (0, 1)) raises a
subclass of :class:`CausalTraitsError` with a one-line message that names the file, the column
and what was expected. The command line turns these into one line on stderr and exit code 2;
everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class CausalTraitsError(Exception):
    """A problem with the user's input or environment, reported as one line (exit code 2)."""

    exit_code = 2

    def __init__(self, message: str):
        # Keep the message on one line whatever the caller passed in.
        super().__init__(" ".join(str(message).split()))


class DataError(CausalTraitsError):
    """A table cannot be read or mapped to the causaltraits schema."""


class DatasetNotFound(CausalTraitsError):
    """A released dataset is not on disk (and cannot be fetched here)."""


class ParameterError(CausalTraitsError):
    """A parameter value is outside what the analysis accepts."""


class OutputError(CausalTraitsError):
    """An output location cannot be used (exists and is not empty, not writable, ...)."""

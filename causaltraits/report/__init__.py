"""Reports: figures, LLM agreement, the data profile and the PDF assembled from run directories."""

from __future__ import annotations


def build_report(run_dirs, out=None):
    """Build one PDF from one or more run directories; returns the PDF path.

    Implemented in :mod:`causaltraits.report.pdf`.
    """
    from causaltraits.report.pdf import build_report as _build

    return _build(run_dirs, out=out)


def profile_dataset(ds):
    """The data section of a report as a JSON-able dict (see :mod:`causaltraits.report.profile`)."""
    from causaltraits.report.profile import profile_dataset as _profile

    return _profile(ds)

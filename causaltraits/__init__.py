"""causaltraits: causal structure among LLM-inferred traits, biographical and facial attributes.

The public API, imported lazily so that ``causaltraits --help`` stays quick:

>>> import causaltraits as ct
>>> ds = ct.load_dataset("athle-demo")
>>> res = ct.discover(ds, test="auto", alpha=0.05, seed=0)
>>> bat = ct.run_battery(ds, tests=("fisherz", "chisq"), llm="aggregate")
>>> pdf = ct.build_report(["results/runs/athle-demo-..."])
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from causaltraits.errors import CausalTraitsError  # noqa: E402

# public name -> module that defines it
_EXPORTS = {
    "load_dataset": "causaltraits.data",
    "Dataset": "causaltraits.data.dataset",
    "Roles": "causaltraits.data.dataset",
    "TRAITS": "causaltraits.data.dataset",
    "load_demo": "causaltraits.data.demo",
    "generate_demo": "causaltraits.data.demo",
    "load_table": "causaltraits.data.tables",
    "fetch": "causaltraits.data.personax",
    "CITest": "causaltraits.independence.base",
    "CIResult": "causaltraits.independence.base",
    "make_test": "causaltraits.independence.base",
    "available_tests": "causaltraits.independence.base",
    "run_battery": "causaltraits.independence.battery",
    "BatteryResult": "causaltraits.independence.battery",
    "discover": "causaltraits.discovery.search",
    "DiscoveryResult": "causaltraits.discovery.search",
    "Knowledge": "causaltraits.discovery.knowledge",
    "Graph": "causaltraits.discovery.graph",
    "Edge": "causaltraits.discovery.graph",
    "score_graphs": "causaltraits.discovery.scores",
    "bootstrap_edges": "causaltraits.discovery.stability",
    "MultiMeasurementCRL": "causaltraits.crl.model",
    "CRLConfig": "causaltraits.crl.model",
    "build_report": "causaltraits.report",
    "profile_dataset": "causaltraits.report",
    "open_run": "causaltraits.runs",
}

__all__ = ["__version__", "CausalTraitsError", *_EXPORTS]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'causaltraits' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

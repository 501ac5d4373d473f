"""causaltraits: causal structure among LLM-inferred traits, biographical and facial attributes.

The public API is re-exported here; submodules hold the implementations.
"""

from __future__ import annotations

__version__ = "0.1.0"

from causaltraits.errors import CausalTraitsError  # noqa: E402

__all__ = ["__version__", "CausalTraitsError"]

"""What a report says about the data, computed when a run is made (the report reads only the run)."""

from __future__ import annotations

from typing import Any

import numpy as np


def profile_dataset(ds) -> dict[str, Any]:
    """Rows, missingness per column (embeddings summarised). Extended with trait distributions and
    LLM agreement in the report work."""
    emb = {c for cols in ds.roles.embeddings.values() for c in cols}
    cols = [c for c in ds.frame.columns if c not in emb]
    miss = {c: float(np.mean(ds.frame[c].isna())) for c in cols}
    return {"name": ds.name, "rows": ds.n, "content_hash": ds.content_hash, "missing_share": miss,
            "roles": ds.roles.to_dict(), "llms": list(ds.llms)}

"""Causal representation learning: the multimodal multi-measurement model, its baselines,
the variant-digits benchmark and the recovery metrics (NumPy + numba, no deep-learning framework)."""

from causaltraits.crl.model import CRLConfig, MultiMeasurementCRL

__all__ = ["CRLConfig", "MultiMeasurementCRL"]

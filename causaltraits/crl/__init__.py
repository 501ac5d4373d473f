"""Causal representation learning (PersonaX Level II) in NumPy + numba, no deep-learning framework.

- :mod:`~causaltraits.crl.layers`    dense layers, fused numba activations, the flat parameter store
- :mod:`~causaltraits.crl.optim`     Adam (one numba loop over the flat parameter vector)
- :mod:`~causaltraits.crl.scm`       the latent structural model: exact density, numba forward/backward
- :mod:`~causaltraits.crl.model`     :class:`MultiMeasurementCRL`, the multimodal multi-measurement model
- :mod:`~causaltraits.crl.refine`    the post-training refit of each block's latent coordinates
- :mod:`~causaltraits.crl.selection` the label-free score that chooses among initialisations
- :mod:`~causaltraits.crl.baselines` autoencoder, beta-VAE, published-code configuration
- :mod:`~causaltraits.crl.digits`    the variant-digits generator (sklearn digits or MNIST IDX)
- :mod:`~causaltraits.crl.metrics`   MCC (Hungarian), kernel-ridge R^2, PC over latents, graph scores
- :mod:`~causaltraits.crl.benchmark` the benchmark driver; :mod:`~causaltraits.crl.pipeline` run directories
"""

from causaltraits.crl.model import CRLConfig, MultiMeasurementCRL

__all__ = ["CRLConfig", "MultiMeasurementCRL"]

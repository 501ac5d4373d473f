"""Recovery metrics: MCC after Hungarian matching, kernel-ridge R^2, and graph scores over latents."""

from __future__ import annotations

from typing import Sequence

import numpy as np

# fixed kernel-ridge hyperparameters (inputs standardised; no tuning on the test split)
KRR_ALPHA = 1e-2
KRR_MAX_TRAIN = 4000


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Correlation matrix between the columns of a (n x p) and b (n x q)."""
    a = (a - a.mean(0)) / np.maximum(a.std(0), 1e-12)
    b = (b - b.mean(0)) / np.maximum(b.std(0), 1e-12)
    return a.T @ b / a.shape[0]


def _cubic_terms(B: np.ndarray) -> np.ndarray:
    """1, each column's powers 1-3 and, for every pair of columns, a b, a^2 b and a b^2."""
    cols = [np.ones(len(B))] + [B[:, j] ** k for j in range(B.shape[1]) for k in (1, 2, 3)]
    for i in range(B.shape[1]):
        for j in range(i + 1, B.shape[1]):
            a, b = B[:, i], B[:, j]
            cols += [a * b, a ** 2 * b, a * b ** 2]
    return np.column_stack(cols)


def mixed_share(z: np.ndarray, own: np.ndarray, other: np.ndarray) -> float:
    """How much of an estimated latent ``z`` is another true latent mixed in: the share of ``z``'s
    variance that a cubic in both true latents (``own`` and ``other``, with their products)
    explains beyond a cubic in ``own`` alone."""
    def r2(X):
        res = z - X @ np.linalg.lstsq(X, z, rcond=None)[0]
        return 1 - res.var() / z.var()
    return float(r2(_cubic_terms(np.column_stack([own, other]))) - r2(_cubic_terms(own[:, None])))


def mcc(true: np.ndarray, est: np.ndarray, method: str = "pearson") -> dict:
    """Mean absolute correlation after matching estimated to true latents (Hungarian).

    Returns ``{"mcc": float, "per_latent": [...], "match": [est index per true latent]}``.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.stats import rankdata

    true, est = np.asarray(true, float), np.asarray(est, float)
    if method == "spearman":
        true = np.apply_along_axis(rankdata, 0, true)
        est = np.apply_along_axis(rankdata, 0, est)
    elif method != "pearson":
        raise ValueError(f"method must be pearson or spearman, got {method!r}")
    C = np.abs(_corr(true, est))
    rows, cols = linear_sum_assignment(-C)
    per = C[rows, cols]
    match = [-1] * true.shape[1]
    for r, c in zip(rows, cols):
        match[r] = int(c)
    return {"mcc": float(per.mean()), "per_latent": per.tolist(), "match": match}


def block_information(est_train: np.ndarray, true_train: np.ndarray, est_test: np.ndarray,
                      true_test: np.ndarray, blocks: Sequence[tuple[int, int]]) -> list[float]:
    """What each block of estimated latents keeps of the true latents it should hold.

    For every block ``(a, b)`` (columns ``a:b`` of both the estimated and the true latents) and each
    true column ``j`` in it: the test R^2 of a least-squares cubic in the block's estimated columns
    (standardised on train; powers 1-3 and the pairwise products ``a b, a^2 b, a b^2``), fitted on
    train. A smooth invertible map inside the block leaves it (nearly) unchanged, so it tells a
    latent lost in training (low) from one only mixed with its neighbour (high, with a low MCC).
    """
    est_train, est_test = np.asarray(est_train, float), np.asarray(est_test, float)
    true_train, true_test = np.asarray(true_train, float), np.asarray(true_test, float)
    mu, sd = est_train.mean(0), np.maximum(est_train.std(0), 1e-12)
    S_train, S_test = (est_train - mu) / sd, (est_test - mu) / sd
    out = []
    for a, b in blocks:
        F_train, F_test = _cubic_terms(S_train[:, a:b]), _cubic_terms(S_test[:, a:b])
        for j in range(a, b):
            coef, *_ = np.linalg.lstsq(F_train, true_train[:, j], rcond=None)
            resid = true_test[:, j] - F_test @ coef
            out.append(float(1.0 - resid.var() / true_test[:, j].var()))
    return out


def kernel_r2(est_train: np.ndarray, true_train: np.ndarray, est_test: np.ndarray,
              true_test: np.ndarray, seed: int = 0) -> dict:
    """R^2 of an RBF kernel ridge from all estimated latents to each true latent, fitted on train.

    Inputs are standardised with training statistics; gamma = 1 / (number of inputs), alpha
    fixed (:data:`KRR_ALPHA`); at most :data:`KRR_MAX_TRAIN` training rows (a seeded subsample)
    so the cost stays bounded.
    """
    from sklearn.kernel_ridge import KernelRidge

    mu, sd = est_train.mean(0), np.maximum(est_train.std(0), 1e-12)
    A, B = (est_train - mu) / sd, (est_test - mu) / sd
    if A.shape[0] > KRR_MAX_TRAIN:
        take = np.sort(np.random.default_rng(seed).choice(A.shape[0], KRR_MAX_TRAIN, replace=False))
        A, true_train = A[take], true_train[take]
    krr = KernelRidge(alpha=KRR_ALPHA, kernel="rbf", gamma=1.0 / A.shape[1]).fit(A, true_train)
    pred = krr.predict(B)
    ss_res = ((true_test - pred) ** 2).sum(0)
    ss_tot = ((true_test - true_test.mean(0)) ** 2).sum(0)
    per = 1.0 - ss_res / ss_tot
    # Reported to 12 significant digits: the last bits of the kernel ridge solve change with the
    # BLAS code path (memory alignment of the arrays differs between processes), and results
    # written by a run must be the same for the same seed.
    return {"r2": _sig(float(per.mean())), "per_latent": [_sig(float(v)) for v in per]}


def _sig(x: float, digits: int = 12) -> float:
    return float(f"{x:.{digits}g}")


def pc_graph(latents: np.ndarray, names: Sequence[str], alpha: float = 0.05, engine: str = "auto",
             test: str = "fisherz"):
    """PC over the latent columns with the CI test ``test`` (Fisher-z by default), as a :class:`Graph`.

    ``engine='auto'`` uses :mod:`causaltraits.discovery` (light, no causal-learn import) when it
    is available, else causal-learn's ``pc`` (Fisher-z only); ``'causallearn'`` forces the latter.
    """
    from causaltraits.discovery.graph import Graph

    data, names = np.asarray(latents, float), list(names)
    if engine == "auto":
        try:
            import causaltraits.independence  # noqa: F401  (the tests live there)
            from causaltraits.discovery.search import run_search
        except (ImportError, SyntaxError):  # pragma: no cover - another part of the package
            engine = "causallearn"
        else:
            graph, _, _ = run_search(data, names, ["continuous"] * len(names), algorithm="pc",
                                     test=test, alpha=alpha)
            return graph
    if test != "fisherz":
        raise ValueError(f"the causal-learn engine runs Fisher-z only, not {test!r}")
    from causallearn.search.ConstraintBased.PC import pc

    cg = pc(data, alpha=alpha, indep_test="fisherz", stable=True, show_progress=False, node_names=names)
    return Graph.from_causallearn(cg.G, nodes=names)


def graph_scores(est, truth) -> dict:
    """Skeleton precision / recall / F1 and SHD, from :mod:`causaltraits.discovery.scores`."""
    from causaltraits.discovery.scores import adjacency_scores, shd

    adj = adjacency_scores(est, truth)
    return {"skeleton_precision": adj["adj_precision"], "skeleton_recall": adj["adj_recall"],
            "skeleton_f1": adj["adj_f1"], "shd": int(shd(est, truth))}


def relabel(graph, mapping: dict):
    """A copy of ``graph`` with nodes renamed (e.g. estimated latents to their matched true names)."""
    from causaltraits.discovery.graph import Edge, Graph

    return Graph([mapping.get(v, v) for v in graph.nodes],
                 [Edge(mapping.get(e.source, e.source), mapping.get(e.target, e.target), e.type)
                  for e in graph.edges])


def relabel_by_match(graph, col_names: Sequence[str], true_names: Sequence[str], match: Sequence[int]):
    """``graph`` over estimated columns ``col_names`` with each matched column renamed to its true
    latent (true latent i <-> column ``match[i]``, -1 unmatched), restricted to the matched nodes."""
    mapping = {col_names[j]: true_names[i] for i, j in enumerate(match) if j >= 0}
    return relabel(graph, mapping).restricted(set(mapping.values()))

"""The Level I battery: every trait against every attribute, with several tests and a correction.

One test object is built per test over one data matrix holding every variable of the battery, so
whatever a test precomputes per variable (kernel matrices, random features, codes) is computed
once and reused by all the pairs, and by every LLM's traits when ``llm='all'``.

>>> res = run_battery(ds, tests=("fisherz",))          # doctest: +SKIP
>>> res.matrix("qvalues", "fisherz")                     # traits x attributes  # doctest: +SKIP
>>> res.write("out/")                                    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from causaltraits.errors import ParameterError

log = logging.getLogger(__name__)

DEFAULT_TESTS = ("kci", "rcit", "hsic", "chisq", "gsq", "fisherz")
CORRECTIONS = ("fdr_bh", "bonferroni", "none")
DISCRETE_KINDS = ("categorical", "binary", "ordinal")
#: tests that treat every distinct value as a category: meaningful on discrete variables only
DISCRETE_ONLY = ("chisq", "gsq")
#: the matrices written per test and LLM
MATRICES = ("pvalues", "statistics", "n", "qvalues")

_CELL_COLUMNS = ["llm", "test", "trait", "attribute", "statistic", "pvalue", "qvalue", "n", "dof",
                 "significant", "applicable", "reason"]


@dataclass
class BatteryResult:
    """Everything a battery computed, as one long table plus the settings that produced it.

    Attributes
    ----------
    cells : one row per (llm, test, trait, attribute): statistic, pvalue, qvalue, n, dof,
        significant, applicable and the reason a cell has no p-value
    traits : the trait columns (rows of the matrices) of each LLM, in order
    attributes : the attribute columns (columns of the matrices), in order
    tests, correction, alpha, seed : the settings
    timings_s : seconds spent per test (all LLMs together)
    """

    cells: pd.DataFrame
    traits: dict[str, list[str]]
    attributes: list[str]
    tests: list[str]
    correction: str
    alpha: float
    seed: int
    dataset: str = ""
    timings_s: dict[str, float] = field(default_factory=dict)
    symmetric: bool = False
    cache_stats: dict[str, int] | None = None

    @property
    def llms(self) -> list[str]:
        return list(self.traits)

    # ------------------------------------------------------------------ views
    def matrix(self, what: str, test: str, llm: str | None = None) -> pd.DataFrame:
        """A traits x attributes matrix of ``what`` (pvalues | statistics | n | qvalues) for one test."""
        if what not in MATRICES:
            raise ValueError(f"what must be one of {', '.join(MATRICES)}")
        llm = llm or self.llms[0]
        col = {"pvalues": "pvalue", "statistics": "statistic", "n": "n", "qvalues": "qvalue"}[what]
        sub = self.cells[(self.cells["llm"] == llm) & (self.cells["test"] == test)]
        m = sub.pivot(index="trait", columns="attribute", values=col)
        m = m.reindex(index=self.traits[llm], columns=self.attributes)
        m.index.name, m.columns.name = "trait", None
        if what == "n":
            return m.astype("Int64")
        return m.astype(np.float64)

    def summary(self, llm: str | None = None) -> pd.DataFrame:
        """Pairs found dependent (q < alpha) by at least one test, with how many and which tests."""
        llm = llm or self.llms[0]
        sub = self.cells[(self.cells["llm"] == llm) & self.cells["significant"]]
        if self.symmetric:
            # a generic table's square matrix holds each pair twice; list it once
            sub = sub[[_pair_key(t, a) == (t, a) for t, a in zip(sub["trait"], sub["attribute"])]]
        rows = []
        for (trait, attr), g in sub.groupby(["trait", "attribute"], sort=False):
            tests = [t for t in self.tests if t in set(g["test"])]
            applicable = self.cells[(self.cells["llm"] == llm) & (self.cells["trait"] == trait)
                                    & (self.cells["attribute"] == attr) & self.cells["applicable"]]
            rows.append({
                "trait": trait, "attribute": attr, "n_tests": len(tests),
                "n_applicable": int(applicable["pvalue"].notna().sum()),
                "tests": ",".join(tests),
                "min_qvalue": float(g["qvalue"].min()),
            })
        out = pd.DataFrame(rows, columns=["trait", "attribute", "n_tests", "n_applicable", "tests", "min_qvalue"])
        return out.sort_values(["n_tests", "min_qvalue"], ascending=[False, True], kind="stable").reset_index(drop=True)

    def dependent_counts(self) -> pd.DataFrame:
        """Number of dependent pairs per LLM and test (for terminal summaries)."""
        c = self.cells
        rows = []
        for llm in self.llms:
            for test in self.tests:
                sub = c[(c["llm"] == llm) & (c["test"] == test)]
                if self.symmetric:
                    sub = sub[[_pair_key(t, a) == (t, a) for t, a in zip(sub["trait"], sub["attribute"])]]
                rows.append({"llm": llm, "test": test, "dependent": int(sub["significant"].sum()),
                             "tested": int(sub["pvalue"].notna().sum()),
                             "not_applicable": int((~sub["applicable"]).sum()),
                             "seconds": round(self.timings_s.get(test, float("nan")), 3)})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ files
    def write(self, out: str | Path, heatmaps: bool = True) -> list[Path]:
        """Write the per-LLM folders (matrices as CSV and parquet, heatmaps, summary, citests).

        ``out`` is a directory (normally a staged run directory from :func:`causaltraits.runs.open_run`,
        which makes the whole set appear at once). Returns the files written.
        """
        out = Path(out)
        written: list[Path] = []
        for llm in self.llms:
            d = out / llm
            d.mkdir(parents=True, exist_ok=True)
            for test in self.tests:
                for what in MATRICES:
                    m = self.matrix(what, test, llm)
                    m.to_csv(d / f"{what}_{test}.csv", na_rep="")
                    m.to_parquet(d / f"{what}_{test}.parquet")
                    written += [d / f"{what}_{test}.csv", d / f"{what}_{test}.parquet"]
                if heatmaps:
                    written.append(self._heatmap(d / f"heatmap_{test}.png", test, llm))
            self.summary(llm).to_csv(d / "summary.csv", index=False)
            cells = self.cells[self.cells["llm"] == llm].drop(columns="llm")
            cells.to_csv(d / "citests.csv", index=False, na_rep="")
            written += [d / "summary.csv", d / "citests.csv"]
        return written

    def _heatmap(self, path: Path, test: str, llm: str) -> Path:
        from causaltraits.report.heatmaps import save_battery_heatmap

        save_battery_heatmap(
            path, qvalues=self.matrix("qvalues", test, llm), n=self.matrix("n", test, llm),
            reasons=self.reasons(test, llm), test=test, llm=llm, correction=self.correction,
            alpha=self.alpha, dataset=self.dataset,
        )
        return path

    def reasons(self, test: str, llm: str | None = None) -> pd.DataFrame:
        """traits x attributes matrix of the reason a cell has no p-value ('' where it has one)."""
        llm = llm or self.llms[0]
        sub = self.cells[(self.cells["llm"] == llm) & (self.cells["test"] == test)]
        m = sub.pivot(index="trait", columns="attribute", values="reason")
        return m.reindex(index=self.traits[llm], columns=self.attributes).fillna("")

    def parameters(self) -> dict[str, Any]:
        """The settings, for a manifest."""
        return {"tests": list(self.tests), "llms": self.llms, "correction": self.correction,
                "alpha": self.alpha, "traits": self.traits, "attributes": list(self.attributes)}


# ---------------------------------------------------------------------- helpers
def _pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def correct(pvalues: Sequence[float], method: str) -> np.ndarray:
    """Adjusted p-values (q-values) with statsmodels' ``multipletests``; NaN stays NaN.

    ``method='none'`` returns the p-values unchanged.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if not ok.any():
        return q
    if method == "none":
        q[ok] = p[ok]
        return q
    from statsmodels.stats.multitest import multipletests

    q[ok] = multipletests(p[ok], method=method)[1]
    return q


def _resolve_tests(tests: Sequence[str] | str) -> list[str]:
    from causaltraits.independence.base import available_tests

    if isinstance(tests, str):
        tests = [t.strip() for t in tests.split(",") if t.strip()]
    tests = list(dict.fromkeys(t.strip().lower() for t in tests))
    if not tests:
        raise ParameterError("no tests given; expected some of " + ", ".join(available_tests()))
    known = available_tests()
    unknown = [t for t in tests if t not in known]
    if unknown:
        raise ParameterError(f"unknown CI test(s) {', '.join(unknown)}; available: {', '.join(known)}")
    return tests


def _is_personax(ds) -> bool:
    r = ds.roles
    return not (r.other_continuous or r.other_categorical) and bool(r.traits or r.llm_traits)


def _check_columns(ds, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in ds.frame.columns]
    if missing:
        raise ParameterError(
            f"dataset {ds.name}: no {what} column(s) {', '.join(missing)}; "
            f"columns are {', '.join(map(str, ds.frame.columns[:30]))}{' ...' if ds.frame.shape[1] > 30 else ''}"
        )


def _select_traits(ds, llm: str, traits: Sequence[str] | None, strict: bool = True) -> list[str]:
    """The trait columns of ``llm`` named by ``traits`` (a column, or a bare trait name such as
    ``Openness`` for ``chatgpt_Openness``); ``strict``: a name matching nothing is an error."""
    cols = ds.trait_columns(llm)
    if traits is None:
        return cols
    chosen: list[str] = []
    for t in traits:
        hits = [c for c in cols if c.lower() == t.lower() or c.lower().endswith("_" + t.lower())]
        if not hits and strict:
            raise ParameterError(f"dataset {ds.name}: no trait '{t}' for {llm}; traits are {', '.join(cols)}")
        chosen += [h for h in hits if h not in chosen]
    return chosen


def plan_battery(ds, llm: str = "aggregate", traits: Sequence[str] | None = None,
                 attributes: Sequence[str] | None = None) -> tuple[dict[str, list[str]], list[str], bool]:
    """The rows (per LLM) and columns of the battery, validated against the dataset.

    Returns ``(traits_by_llm, attributes, symmetric)``; ``symmetric`` is True for a generic table
    tested on every pair of its columns (a square matrix, each pair tested once).
    """
    traits = list(traits) if traits else None
    attributes = list(attributes) if attributes else None
    if _is_personax(ds):
        if llm == "all":
            llms = ["aggregate", *ds.roles.llm_traits]
        elif llm == "aggregate":
            llms = ["aggregate"]
        else:
            from causaltraits.errors import CausalTraitsError

            try:
                llms = [ds._llm_key(llm)]
            except CausalTraitsError as e:
                raise ParameterError(str(e)) from None
        # with every LLM, a trait may name one LLM's column ("gemini_Openness"): others skip it
        by_llm = {name: _select_traits(ds, name, traits, strict=len(llms) == 1) for name in llms}
        if traits is not None and len(llms) > 1:
            matched = {c.lower() for cols in by_llm.values() for c in cols}
            for t in traits:
                if not any(c == t.lower() or c.endswith("_" + t.lower()) for c in matched):
                    raise ParameterError(f"dataset {ds.name}: no trait '{t}'; traits are "
                                         f"{', '.join(c for name in llms for c in ds.trait_columns(name))}")
        by_llm = {k: v for k, v in by_llm.items() if v}
        if not by_llm:
            raise ParameterError(f"dataset {ds.name}: no trait columns found")
        if attributes is None:
            attributes = ds.attribute_columns()
        _check_columns(ds, attributes, "attribute")
        if not attributes:
            raise ParameterError(f"dataset {ds.name}: no attribute columns; give --attributes")
        return by_llm, attributes, False
    # a generic table: the two sides are whatever the user names, by default every pair of columns
    if llm not in ("aggregate", "all"):
        raise ParameterError(f"dataset {ds.name} has no LLM columns; --llm {llm} applies to PersonaX tables only")
    variables = ds.analysis_variables() or list(ds.frame.columns)
    if traits is not None:
        _check_columns(ds, traits, "trait")
    if attributes is not None:
        _check_columns(ds, attributes, "attribute")
    symmetric = False
    if traits is None and attributes is None:
        traits, attributes, symmetric = list(variables), list(variables), True
    elif traits is None:
        traits = [c for c in variables if c not in attributes]
    elif attributes is None:
        attributes = [c for c in variables if c not in traits]
    if not traits or not attributes:
        raise ParameterError(f"dataset {ds.name}: nothing to test (traits or attributes empty)")
    return {"aggregate": list(traits)}, list(attributes), symmetric


def _applicable(test_cls, name: str, kx: str, ky: str) -> tuple[bool, str]:
    accepts = getattr(test_cls, "accepts", None)
    if name in DISCRETE_ONLY and accepts is None:
        accepts = DISCRETE_KINDS
    if accepts is None:
        return True, ""
    bad = [k for k in (kx, ky) if k not in accepts]
    if bad:
        return False, f"not applicable: {name} needs {'/'.join(accepts)} variables"
    return True, ""


def _open_cache(cache_dir: Path | None):
    """The persistent result cache in ``cache_dir`` (None when not asked for or not available)."""
    if cache_dir is None:
        return None
    try:
        from causaltraits.independence.cache import ResultCache
    except ImportError:  # pragma: no cover - only while the cache module is being written
        return None
    return ResultCache.in_dir(cache_dir)


def _wrap_cache(test, cache, names: Sequence[str]):
    """``test`` behind the shared result cache (unchanged when there is none)."""
    if cache is None:
        return test
    from causaltraits.independence.cache import CachedTest

    return CachedTest(test, cache, names=names)


# ---------------------------------------------------------------------- the battery
def run_battery(ds, tests: Sequence[str] | str = DEFAULT_TESTS, llm: str = "aggregate",
                correction: str = "fdr_bh", alpha: float = 0.05, traits: Sequence[str] | None = None,
                attributes: Sequence[str] | None = None, seed: int = 0, *, test_params: dict[str, dict] | None = None,
                cache_dir: str | Path | None = None, progress: bool = False,
                blas_threads: int | None = 1) -> BatteryResult:
    """Test every trait against every attribute with each test, and correct for multiple testing.

    Parameters
    ----------
    ds : a :class:`~causaltraits.data.Dataset`
    tests : names known to :func:`~causaltraits.independence.available_tests`
    llm : ``'aggregate'`` (the aggregated traits), ``'all'`` (aggregate and every LLM) or one LLM name
    correction : ``'fdr_bh'`` | ``'bonferroni'`` | ``'none'``; applied per LLM and test over the
        cells that have a p-value
    alpha : significance level for the q-values
    traits, attributes : the two sides (column names). PersonaX tables: default the trait columns of
        the chosen LLM(s) and ``ds.attribute_columns()``; bare trait names such as ``Openness``
        select that trait of each LLM. Generic tables: default every pair of columns.
    seed : seed of the randomised tests
    test_params : extra keyword arguments per test name, passed to :func:`make_test`
    cache_dir : directory of the persistent result cache (used when the cache module exists)
    progress : show a tqdm bar over the cells (stderr)
    blas_threads : BLAS threads while testing (None: leave as is). One by default: the battery's
        products are small or memory-bound, and BLAS threads contending on a busy machine made
        KCI ten times slower than one thread (measured at n = 300 on 2 shared cores).

    Returns
    -------
    BatteryResult
    """
    from causaltraits.independence.base import get_test_class, make_test

    if correction not in CORRECTIONS:
        raise ParameterError(f"unknown correction '{correction}'; expected one of {', '.join(CORRECTIONS)}")
    if not (0.0 < float(alpha) < 1.0):
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    tests = _resolve_tests(tests)
    by_llm, attrs, symmetric = plan_battery(ds, llm, traits, attributes)
    test_params = dict(test_params or {})

    # One matrix over every variable of the battery; each test object is built on it once.
    variables = list(dict.fromkeys([*attrs, *(c for cols in by_llm.values() for c in cols)]))
    index = {c: i for i, c in enumerate(variables)}
    kinds = ds.kinds(variables)
    data = ds.matrix(variables)
    kind_of = dict(zip(variables, kinds))

    # the cells, each unordered pair once (a square generic battery mirrors them afterwards)
    cells_by_llm: dict[str, list[tuple[str, str]]] = {}
    for name, tcols in by_llm.items():
        seen: set[tuple[str, str]] = set()
        pairs = []
        for t in tcols:
            for a in attrs:
                key = _pair_key(t, a)
                if t == a or (symmetric and key in seen):
                    continue
                seen.add(key)
                pairs.append((t, a))
        cells_by_llm[name] = pairs
    total = len(tests) * len({_pair_key(t, a) for ps in cells_by_llm.values() for t, a in ps})

    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="CI tests", unit="test", disable=not progress, leave=False)
    records: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    cache = _open_cache(Path(cache_dir) if cache_dir is not None else None)
    hits = misses = 0
    limits = contextlib.ExitStack()
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        limits.enter_context(threadpool_limits(limits=int(blas_threads), user_api="blas"))
    try:
        for test_name in tests:
            t0 = time.perf_counter()
            cls = get_test_class(test_name)
            extra = dict(test_params.get(test_name, {}))
            if "names" in inspect.signature(cls.__init__).parameters:
                extra.setdefault("names", variables)  # lets a test name the column it refuses
            obj = make_test(test_name, data, kinds=kinds, seed=seed, **extra)
            obj = _wrap_cache(obj, cache, variables)
            bar.set_postfix_str(test_name)
            # each distinct pair once, in an order that keeps per-variable kernels in the test's cache
            unique: dict[tuple[str, str], tuple[str, str]] = {}
            for pairs in cells_by_llm.values():
                for t, a in pairs:
                    unique.setdefault(_pair_key(t, a), (t, a))
            done: dict[tuple[str, str], dict[str, Any]] = {}
            for trait, attr in cache_friendly_order(list(unique.values()), _kernel_capacity(obj, data.shape[0])):
                done[_pair_key(trait, attr)] = _one_cell(obj, cls, test_name, index[trait], index[attr],
                                                         kind_of[trait], kind_of[attr])
                bar.update(1)
            for llm_name, pairs in cells_by_llm.items():
                for trait, attr in pairs:
                    records.append({"llm": llm_name, "test": test_name, "trait": trait, "attribute": attr,
                                    **done[_pair_key(trait, attr)]})
            if cache is not None:
                cache.flush()
            timings[test_name] = time.perf_counter() - t0
            hits += getattr(obj, "hits", 0)
            misses += getattr(obj, "misses", 0)
    finally:
        limits.close()
        bar.close()
        if cache is not None:
            cache.close()

    cells = pd.DataFrame.from_records(records, columns=[c for c in _CELL_COLUMNS if c not in ("qvalue", "significant")])
    cells["qvalue"] = np.nan
    for (llm_name, test_name), g in cells.groupby(["llm", "test"], sort=False):
        cells.loc[g.index, "qvalue"] = correct(g["pvalue"].to_numpy(), correction)
    cells["significant"] = cells["qvalue"] < alpha
    if symmetric:
        mirror = cells.rename(columns={"trait": "attribute", "attribute": "trait"})
        cells = pd.concat([cells, mirror], ignore_index=True)
    cells = cells[_CELL_COLUMNS].reset_index(drop=True)
    cells["n"] = cells["n"].astype("Int64")
    return BatteryResult(cells=cells, traits=by_llm, attributes=attrs, tests=tests, correction=correction,
                         alpha=float(alpha), seed=int(seed), dataset=getattr(ds, "name", ""),
                         timings_s=timings, symmetric=symmetric,
                         cache_stats={"hits": hits, "misses": misses} if cache is not None else None)


def _kernel_capacity(test, n: int) -> int | None:
    """How many n x n matrices the test's own kernel cache holds (None: no such cache)."""
    for obj in (test, getattr(test, "test", None), getattr(test, "inner", None)):
        cache = getattr(obj, "_cache", None)
        max_bytes = getattr(cache, "max_bytes", None) or getattr(obj, "cache_bytes", None)
        if max_bytes:
            return max(1, int(max_bytes) // (8 * n * n + 1))
    return None


def cache_friendly_order(pairs: Sequence[tuple[str, str]], capacity: int | None) -> list[tuple[str, str]]:
    """Order (a, b) pairs so that a least-recently-used cache of ``capacity`` per-variable kernels
    builds each kernel as few times as possible.

    The side with fewer distinct variables is the inner loop, split into blocks of
    ``capacity - 2`` variables (room for the block, the current outer variable and the one
    being evicted); for each block every outer variable is paired with the block. Each inner
    kernel is then built once and each outer kernel once per block, whatever the order in which
    a test reads x and y (a trait-major loop over more variables than the cache holds would
    rebuild every kernel at every use).
    """
    pairs = list(pairs)
    if capacity is None or not pairs:
        return pairs
    left = list(dict.fromkeys(a for a, _ in pairs))
    right = list(dict.fromkeys(b for _, b in pairs))
    inner_is_left = len(left) < len(right)
    inner = left if inner_is_left else right
    outer = right if inner_is_left else left
    block = max(1, capacity - 2)
    pos_in = {v: i for i, v in enumerate(inner)}
    pos_out = {v: i for i, v in enumerate(outer)}

    def key(p: tuple[str, str]) -> tuple[int, int, int]:
        i, o = (p[0], p[1]) if inner_is_left else (p[1], p[0])
        return pos_in[i] // block, pos_out[o], pos_in[i]

    return sorted(pairs, key=key)


def _one_cell(obj, cls, name: str, x: int, y: int, kx: str, ky: str) -> dict[str, Any]:
    ok, reason = _applicable(cls, name, kx, ky)
    if not ok:
        return {"statistic": np.nan, "pvalue": np.nan, "n": pd.NA, "dof": np.nan, "applicable": False,
                "reason": reason}
    try:
        r = obj.test(x, y, ())
    except Exception as e:  # a failing test is reported as such, never as "dependent"
        log.warning("%s failed on columns %d, %d: %s", name, x, y, e)
        return {"statistic": np.nan, "pvalue": np.nan, "n": pd.NA, "dof": np.nan, "applicable": True,
                "reason": f"error: {type(e).__name__}: {' '.join(str(e).split())[:200]}"}
    reason = ""
    if not np.isfinite(r.pvalue):
        reason = "too few complete rows" if r.n < 3 else "test gave no p-value (constant variable?)"
    return {"statistic": r.statistic, "pvalue": r.pvalue, "n": r.n,
            "dof": np.nan if r.dof is None else float(r.dof), "applicable": True, "reason": reason}

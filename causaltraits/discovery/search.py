"""PC and FCI driven by the causaltraits CI tests, with tier knowledge and a full test log.

Design decision: causaltraits runs its own implementation of PC and FCI here rather than
causal-learn's ``pc``/``fci`` behind a ``CIT_Base`` adapter, because

- every CI test has to be logged with its conditioning set (names), statistic, p-value and n,
  and each adjacency needs the test that removed it; causal-learn's ``fci`` returns neither
  separating sets nor its test object;
- causal-learn's background-knowledge handling has open bugs (issue 224: a forbidden edge can
  create a false v-structure in PC; issue 266: spurious tails in FCI; issue 171: tests still run
  for forbidden pairs) and ``fci`` prints to stdout (trap 5);
- its PC-stable collects the union of separating sets per depth and runs ~2.4x more tests (trap 8).

Checked against causal-learn in ``tests/discovery/test_search.py``: the PC-stable skeleton is
identical on every problem tried, and so is the PC pattern whenever no v-structures conflict
(with conflicts causal-learn's ``uc_priority=2`` and the rule below resolve them differently);
p-values logged equal causal-learn's Fisher-z. With a d-separation oracle PC returns the true
CPDAG, and FCI returns causal-learn's PAG on 56 of 60 random latent-variable graphs; of the other
four, two are graphs where causal-learn outputs an invalid tail-circle edge (its issue 266), one
where causal-learn adds a tail by its R10, which searches semi-directed paths that are neither
uncovered nor kept away from the starting node (looser than Zhang's rule), and one where this
implementation applies Zhang's R9 (an uncovered potentially directed path ``a o-o b o-o d --> c``
turns ``a o-> c`` into ``a --> c``) and causal-learn does not. Every mark is also checked against
the true ancestral relations.

- Skeleton: PC-stable (Colombo and Maathuis 2014): adjacency sets are frozen at the start of each
  depth, so the skeleton does not depend on the variable order. Independence means ``p > alpha``;
  a NaN p-value counts as dependent (the edge is kept) and is logged. The first separating set
  found (subsets in lexicographic order of column index) is kept. A test already run (same pair
  and set) is answered from memory and not run again.
- Tier knowledge (:class:`~causaltraits.discovery.knowledge.Knowledge`) never removes an
  adjacency. PC: every edge across tiers is oriented earlier --> later before v-structures
  (this is implied by the knowledge and the adjacency); a v-structure that would point an
  arrowhead against an existing orientation is skipped and counted in ``info['conflicts']``;
  then Meek's rules R1-R4 to closure. FCI: every edge across tiers gets an arrowhead at the
  later node (the later node is not an ancestor of the earlier one), before R0; the rules only
  ever turn circles into tails or arrowheads, so no edge can end up later --> earlier.
- FCI: skeleton, R0, Possible-D-Sep removal (subsets up to ``pds_depth``, default 3, of
  Possible-D-Sep; the full search is exponential), marks reset to circles, knowledge, R0 again,
  then Zhang's rules R1-R4 and R8-R10 (no selection bias, so R5-R7 are not used).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Sequence

import numpy as np
import pandas as pd

from causaltraits.discovery.graph import Graph
from causaltraits.discovery.knowledge import Knowledge
from causaltraits.errors import ParameterError

TAIL, ARROW, CIRCLE = -1, 1, 2
ALGORITHMS = ("pc", "fci")

CITEST_COLUMNS = ["x", "y", "z", "size", "statistic", "pvalue", "n", "dof", "phase", "independent"]
ADJ_COLUMNS = ["x", "y", "adjacent", "edge", "removed_by", "pvalue", "tests", "reason"]


# ---------------------------------------------------------------------- test log
@dataclass
class _PairRecord:
    tests: int = 0
    max_p: float = float("nan")
    max_p_set: tuple[int, ...] = ()
    removed_by: tuple[int, ...] | None = None
    removed_p: float = float("nan")
    reason: str = ""


class TestLog:
    """Runs CI tests, remembers results (one per pair and set) and records every test run.

    Parameters
    ----------
    test : a callable ``test(x, y, z) -> CIResult`` (a :class:`~causaltraits.independence.CITest`)
    names : variable names, by column index
    alpha : significance level (p > alpha means independent)
    progress : a tqdm bar (or None) advanced once per test run
    """

    def __init__(self, test: Any, names: Sequence[str], alpha: float, progress: Any = None):
        self.test = test
        self.names = list(names)
        self.alpha = float(alpha)
        self.progress = progress
        self.rows: list[dict[str, Any]] = []
        self.memo: dict[tuple[int, int, tuple[int, ...]], Any] = {}
        self.pairs: dict[tuple[int, int], _PairRecord] = {}
        self.hits = 0

    def pair(self, i: int, j: int) -> _PairRecord:
        key = (min(i, j), max(i, j))
        if key not in self.pairs:
            self.pairs[key] = _PairRecord()
        return self.pairs[key]

    def independent(self, i: int, j: int, z: Sequence[int], phase: str) -> tuple[bool, float]:
        a, b = min(i, j), max(i, j)
        zs = tuple(sorted(int(c) for c in z))
        key = (a, b, zs)
        if key in self.memo:
            self.hits += 1
            r = self.memo[key]
        else:
            r = self.test.test(a, b, zs)
            self.memo[key] = r
            p = r.pvalue
            indep = bool(np.isfinite(p) and p > self.alpha)
            self.rows.append({
                "x": self.names[a], "y": self.names[b], "z": ";".join(self.names[c] for c in zs),
                "size": len(zs), "statistic": r.statistic, "pvalue": p, "n": r.n,
                "dof": r.dof, "phase": phase, "independent": indep,
            })
            rec = self.pair(a, b)
            rec.tests += 1
            if np.isfinite(p) and not (p <= rec.max_p):
                rec.max_p, rec.max_p_set = p, zs
            if self.progress is not None:
                self.progress.update(1)
        p = r.pvalue
        return bool(np.isfinite(p) and p > self.alpha), p

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=CITEST_COLUMNS)


# ---------------------------------------------------------------------- skeleton
def skeleton(p: int, log: TestLog, knowledge: Knowledge | None = None, max_depth: int | None = None,
             names: Sequence[str] | None = None) -> tuple[np.ndarray, dict[frozenset, tuple[int, ...] | None]]:
    """PC-stable adjacency search; returns (adjacency matrix, separating sets by pair)."""
    names = list(names) if names is not None else log.names
    adj = np.ones((p, p), dtype=bool)
    np.fill_diagonal(adj, False)
    sepsets: dict[frozenset, tuple[int, ...] | None] = {}
    if knowledge is not None:
        for i, j in combinations(range(p), 2):
            if knowledge.forbids_adjacency(names[i], names[j]):
                adj[i, j] = adj[j, i] = False
                sepsets[frozenset((i, j))] = None
                log.pair(i, j).reason = "knowledge"
    depth = 0
    while max_depth is None or depth <= max_depth:
        frozen = [set(np.flatnonzero(adj[i]).tolist()) for i in range(p)]
        tested = False
        for i in range(p):
            for j in sorted(frozen[i]):
                if not adj[i, j]:
                    continue
                cand = sorted(frozen[i] - {j})
                if len(cand) < depth:
                    continue
                tested = True
                for s in combinations(cand, depth):
                    indep, pv = log.independent(i, j, s, "skeleton")
                    if indep:
                        adj[i, j] = adj[j, i] = False
                        sepsets[frozenset((i, j))] = tuple(s)
                        rec = log.pair(i, j)
                        rec.removed_by, rec.removed_p, rec.reason = tuple(sorted(s)), pv, "skeleton"
                        break
        if not tested:
            break
        depth += 1
    return adj, sepsets


# ---------------------------------------------------------------------- PC orientation
def _tier_matrix(names: Sequence[str], knowledge: Knowledge | None) -> np.ndarray:
    """forb[i, j] = True when i --> j is forbidden."""
    p = len(names)
    forb = np.zeros((p, p), dtype=bool)
    if knowledge is not None:
        for i in range(p):
            for j in range(p):
                if i != j and knowledge.forbids(names[i], names[j]):
                    forb[i, j] = True
    return forb


def _directed(m: np.ndarray, i: int, j: int) -> bool:
    return m[i, j] == TAIL and m[j, i] == ARROW


def _undirected(m: np.ndarray, i: int, j: int) -> bool:
    return m[i, j] == TAIL and m[j, i] == TAIL


def _orient(m: np.ndarray, i: int, j: int) -> None:
    m[i, j], m[j, i] = TAIL, ARROW


def orient_pc(adj: np.ndarray, sepsets: dict, names: Sequence[str], knowledge: Knowledge | None = None,
              info: dict | None = None) -> np.ndarray:
    """Orient a skeleton into a pattern: knowledge, v-structures, Meek rules R1-R4."""
    p = adj.shape[0]
    info = info if info is not None else {}
    m = np.where(adj, TAIL, 0).astype(np.int8)
    forb = _tier_matrix(names, knowledge)
    req = np.zeros((p, p), dtype=bool)
    if knowledge is not None:
        idx = {v: k for k, v in enumerate(names)}
        for a, b in knowledge.required:
            if a in idx and b in idx:
                req[idx[a], idx[b]] = True
    # knowledge first: an adjacency across tiers can only be earlier --> later
    for i, j in zip(*np.nonzero(adj)):
        if (forb[j, i] and not forb[i, j]) or req[i, j]:
            _orient(m, i, j)
    conflicts = 0
    for k in range(p):
        nb = np.flatnonzero(adj[k])
        for i, j in combinations(nb, 2):
            if adj[i, j]:
                continue
            s = sepsets.get(frozenset((int(i), int(j))))
            if s is None or k in s:
                continue
            # collider i --> k <-- j; skip it if either half contradicts an orientation already made
            ok = all(m[k, a] != TAIL or m[a, k] != ARROW for a in (i, j))  # not k --> a
            ok = ok and not forb[i, k] and not forb[j, k]
            if not ok:
                conflicts += 1
                continue
            _orient(m, i, k)
            _orient(m, j, k)
    info["conflicts"] = conflicts
    _meek(m, forb)
    return m


def _meek(m: np.ndarray, forb: np.ndarray) -> None:
    p = m.shape[0]
    adj = m != 0

    def can(i: int, j: int) -> bool:
        return _undirected(m, i, j) and not forb[i, j]

    changed = True
    while changed:
        changed = False
        for i in range(p):
            for j in range(p):
                if i == j or not _undirected(m, i, j):
                    continue
                # R1: a --> i --- j, a and j not adjacent  =>  i --> j
                if can(i, j) and any(_directed(m, a, i) and not adj[a, j] for a in range(p) if a != j):
                    _orient(m, i, j)
                    changed = True
                    continue
                # R2: i --> a --> j and i --- j  =>  i --> j
                if can(i, j) and any(_directed(m, i, a) and _directed(m, a, j) for a in range(p)):
                    _orient(m, i, j)
                    changed = True
                    continue
                # R3: i --- a --> j, i --- b --> j, a and b not adjacent  =>  i --> j
                mids = [a for a in range(p) if _undirected(m, i, a) and _directed(m, a, j)]
                if can(i, j) and any(not adj[a, b] for a, b in combinations(mids, 2)):
                    _orient(m, i, j)
                    changed = True
                    continue
                # R4: i --- k --> l --> j, k and j not adjacent, i and l adjacent  =>  i --> j
                if can(i, j):
                    hit = False
                    for k in range(p):
                        if k in (i, j) or not _undirected(m, i, k) or adj[k, j]:
                            continue
                        for l_ in range(p):
                            if l_ in (i, j, k):
                                continue
                            if _directed(m, k, l_) and _directed(m, l_, j) and adj[i, l_]:
                                hit = True
                                break
                        if hit:
                            break
                    if hit:
                        _orient(m, i, j)
                        changed = True


# ---------------------------------------------------------------------- FCI
def _set(m: np.ndarray, at: int, other: int, mark: int) -> bool:
    """Set the mark at ``at`` on edge at-other if it is a circle; True when changed."""
    if m[at, other] == CIRCLE:
        m[at, other] = mark
        return True
    return False


def _fci_knowledge(m: np.ndarray, names: Sequence[str], knowledge: Knowledge | None) -> None:
    if knowledge is None:
        return
    forb = _tier_matrix(names, knowledge)
    p = m.shape[0]
    for i in range(p):
        for j in range(p):
            if m[i, j] != 0 and forb[i, j]:
                # i --> j is forbidden: i is not an ancestor of j ... only tiers give a sound mark:
                ti, tj = knowledge.tier_of(names[i]), knowledge.tier_of(names[j])
                if ti is not None and tj is not None and ti > tj:
                    m[i, j] = ARROW  # the later node is not an ancestor of the earlier one
        for j in range(p):
            if m[i, j] != 0 and knowledge.requires(names[i], names[j]):
                m[i, j], m[j, i] = TAIL, ARROW


def _rule0(m: np.ndarray, adj: np.ndarray, sepsets: dict) -> None:
    p = m.shape[0]
    for k in range(p):
        nb = np.flatnonzero(adj[k])
        for i, j in combinations(nb, 2):
            if adj[i, j]:
                continue
            s = sepsets.get(frozenset((int(i), int(j))))
            if s is None or k in s:
                continue
            _set(m, k, i, ARROW)
            _set(m, k, j, ARROW)


def _possible_dsep(m: np.ndarray, adj: np.ndarray, x: int) -> set[int]:
    """Nodes reachable from x by a path whose inner nodes are colliders or in a triangle."""
    out: set[int] = set()
    frontier = [(x, int(v)) for v in np.flatnonzero(adj[x])]
    seen = set(frontier)
    while frontier:
        nxt = []
        for u, v in frontier:
            out.add(v)
            for w in np.flatnonzero(adj[v]):
                w = int(w)
                if w == u or w == x:
                    continue
                collider = m[v, u] == ARROW and m[v, w] == ARROW
                if collider or adj[u, w]:
                    if (v, w) not in seen:
                        seen.add((v, w))
                        nxt.append((v, w))
        frontier = nxt
    out.discard(x)
    return out


def _pd_edge(m: np.ndarray, u: int, v: int) -> bool:
    """Edge u *-* v can be on a potentially directed path from u to v."""
    return m[u, v] != 0 and m[u, v] != ARROW and m[v, u] != TAIL


def _uncovered_pd_paths(m: np.ndarray, adj: np.ndarray, start: int, first: int, end: int,
                        budget: int = 4000) -> bool:
    """Whether an uncovered potentially directed path start, first, ..., end exists.

    Depth-first over simple paths, with a budget on the partial paths explored: on a dense
    circle-rich PAG the number of paths is exponential, and past the budget the answer is False
    (the rule is then not applied, which keeps the output sound, only less oriented).
    """
    if not _pd_edge(m, start, first):
        return False
    if first == end:
        return True
    stack = [(start, first, frozenset((start, first)))]
    pushed = 1
    while stack:
        prev, cur, used = stack.pop()
        for nxt in np.flatnonzero(adj[cur]):
            nxt = int(nxt)
            if nxt in used or adj[prev, nxt] or not _pd_edge(m, cur, nxt):
                continue
            if nxt == end:
                return True
            pushed += 1
            if pushed > budget:
                return False
            stack.append((cur, nxt, used | {nxt}))
    return False


def _fci_rules(m: np.ndarray, adj: np.ndarray, sepsets: dict) -> None:
    p = m.shape[0]

    def arrow_at(a: int, b: int) -> bool:  # a *-> b
        return m[b, a] == ARROW

    def directed(a: int, b: int) -> bool:  # a --> b
        return m[a, b] == TAIL and m[b, a] == ARROW

    changed = True
    while changed:
        changed = False
        for b in range(p):
            nb = [int(v) for v in np.flatnonzero(adj[b])]
            for a in nb:
                for c in nb:
                    if a == c:
                        continue
                    # R1: a *-> b o-* c, a, c not adjacent  =>  b --> c
                    if arrow_at(a, b) and m[b, c] == CIRCLE and not adj[a, c] and m[c, b] != TAIL:
                        m[b, c] = TAIL
                        m[c, b] = ARROW
                        changed = True
        for a in range(p):
            for c in range(p):
                if a == c or not adj[a, c] or m[c, a] != CIRCLE:
                    continue
                # R2: (a --> b *-> c or a *-> b --> c) and a *-o c  =>  a *-> c
                for b in range(p):
                    if b in (a, c) or not adj[a, b] or not adj[b, c]:
                        continue
                    if (directed(a, b) and arrow_at(b, c)) or (arrow_at(a, b) and directed(b, c)):
                        m[c, a] = ARROW
                        changed = True
                        break
        for d in range(p):
            for b in range(p):
                if d == b or not adj[d, b] or m[b, d] != CIRCLE:
                    continue
                # R3: a *-> b <-* c, a *-o d o-* c, a, c not adjacent, d *-o b  =>  d *-> b
                cands = [a for a in range(p) if a not in (b, d) and adj[a, b] and adj[a, d]
                         and arrow_at(a, b) and m[d, a] == CIRCLE]
                if any(not adj[a, c] for a, c in combinations(cands, 2)):
                    m[b, d] = ARROW
                    changed = True
        changed |= _rule4(m, adj, sepsets)
        changed |= _rules8to10(m, adj)


def _rule4(m: np.ndarray, adj: np.ndarray, sepsets: dict) -> bool:
    """Discriminating paths <d, ..., a, b, c> for b with b o-* c."""
    p = m.shape[0]
    changed = False
    for b in range(p):
        for c in range(p):
            if b == c or not adj[b, c] or m[b, c] != CIRCLE:
                continue
            for a in range(p):
                # a <-* b (arrowhead at a), a --> c
                if a in (b, c) or not adj[a, b] or not adj[a, c]:
                    continue
                if not (m[a, b] == ARROW and m[a, c] == TAIL and m[c, a] == ARROW):
                    continue
                # walk back from a through colliders that are parents of c
                frontier = [(a, (b, a))]
                seen = {a, b, c}
                found = None
                while frontier and found is None:
                    nxt = []
                    for cur, path in frontier:
                        for d in np.flatnonzero(adj[cur]):
                            d = int(d)
                            if d in seen or d in path or m[cur, d] != ARROW:
                                continue  # need d *-> cur
                            if not adj[d, c]:
                                found = d
                                break
                            # d must be a collider on the path and a parent of c to extend
                            if m[d, cur] == ARROW and m[d, c] == TAIL and m[c, d] == ARROW:
                                seen.add(d)
                                nxt.append((d, (*path, d)))
                        if found is not None:
                            break
                    frontier = nxt
                if found is None:
                    continue
                s = sepsets.get(frozenset((found, c)))
                if s is None:
                    continue
                if b in s:
                    m[b, c] = TAIL
                    if m[c, b] == CIRCLE:
                        m[c, b] = ARROW
                else:
                    for at, other in ((a, b), (b, a), (b, c), (c, b)):
                        if m[at, other] == CIRCLE:
                            m[at, other] = ARROW
                changed = True
                break
    return changed


def _rules8to10(m: np.ndarray, adj: np.ndarray) -> bool:
    p = m.shape[0]
    changed = False
    memo: dict[tuple[int, int, int], bool] = {}

    def upd(start: int, first: int, end: int) -> bool:
        # marks only change on a hit, and the memo is cleared then
        key = (start, first, end)
        if key not in memo:
            memo[key] = _uncovered_pd_paths(m, adj, start, first, end)
        return memo[key]

    for a in range(p):
        for c in range(p):
            # every rule here turns a o-> c into a --> c
            if a == c or not adj[a, c] or not (m[a, c] == CIRCLE and m[c, a] == ARROW):
                continue
            hit = False
            # R8: a --> b --> c, or a -o b --> c (tail at a, circle at b)
            for b in range(p):
                if b in (a, c) or not adj[a, b] or not adj[b, c]:
                    continue
                if m[a, b] == TAIL and m[b, a] in (ARROW, CIRCLE) and m[b, c] == TAIL and m[c, b] == ARROW:
                    hit = True
                    break
            # R9: uncovered p.d. path a, b, ..., c with b, c not adjacent
            if not hit:
                for b in range(p):
                    if b in (a, c) or not adj[a, b] or adj[b, c]:
                        continue
                    if upd(a, b, c):
                        hit = True
                        break
            # R10: b --> c <-- d, uncovered p.d. paths a..b and a..d with distinct, non-adjacent firsts
            if not hit:
                parents = [b for b in range(p) if b != a and adj[b, c] and m[b, c] == TAIL and m[c, b] == ARROW]
                for b, d in combinations(parents, 2):
                    firsts_b = [int(u) for u in np.flatnonzero(adj[a]) if u != c and upd(a, int(u), b)]
                    if not firsts_b:
                        continue
                    firsts_d = [int(u) for u in np.flatnonzero(adj[a]) if u != c and upd(a, int(u), d)]
                    if any(u != w and not adj[u, w] for u in firsts_b for w in firsts_d):
                        hit = True
                        break
            if hit:
                m[a, c] = TAIL
                changed = True
                memo.clear()
    return changed


def fci_search(p: int, log: TestLog, names: Sequence[str], knowledge: Knowledge | None = None,
               max_depth: int | None = None, pds_depth: int | None = 3) -> tuple[np.ndarray, dict]:
    """FCI: skeleton, Possible-D-Sep removal, R0 and the orientation rules."""
    adj, sepsets = skeleton(p, log, knowledge, max_depth, names)
    m = np.where(adj, CIRCLE, 0).astype(np.int8)
    _fci_knowledge(m, names, knowledge)
    _rule0(m, adj, sepsets)
    # Possible-D-Sep stage
    pds = {x: _possible_dsep(m, adj, x) for x in range(p)}
    for x in range(p):
        for y in sorted(int(v) for v in np.flatnonzero(adj[x])):
            if not adj[x, y]:
                continue
            removed = False
            for source in (x, y):
                other = y if source == x else x
                cand = sorted(pds[source] - {other})
                top = len(cand) if pds_depth is None else min(len(cand), pds_depth)
                for size in range(1, top + 1):
                    for s in combinations(cand, size):
                        indep, pv = log.independent(x, y, s, "possible-dsep")
                        if indep:
                            adj[x, y] = adj[y, x] = False
                            sepsets[frozenset((x, y))] = tuple(s)
                            rec = log.pair(x, y)
                            rec.removed_by, rec.removed_p, rec.reason = tuple(sorted(s)), pv, "possible-dsep"
                            removed = True
                            break
                    if removed:
                        break
                if removed:
                    break
    m = np.where(adj, CIRCLE, 0).astype(np.int8)
    _fci_knowledge(m, names, knowledge)
    _rule0(m, adj, sepsets)
    _fci_rules(m, adj, sepsets)
    return m, sepsets


# ---------------------------------------------------------------------- test choice
def choose_test(kinds: Sequence[str], data: np.ndarray | None = None, max_levels: int = 5) -> str:
    """The CI test ``--test auto`` uses for columns of these kinds.

    ``gsq`` when every column is categorical or binary with at most ``max_levels`` levels (a
    contingency-table test is exact for such data); ``mixed`` when any column is categorical
    (league codes are labels, not numbers: they enter as dummies); otherwise ``fisherz``
    (continuous, ordinal and binary columns are used as numbers in a linear-Gaussian test).
    See ``README_test_choice.md``.
    """
    from causaltraits.independence import available_tests

    have = set(available_tests())
    kinds = list(kinds)
    discrete = all(k in ("categorical", "binary") for k in kinds)
    if discrete and data is not None:
        for c in range(data.shape[1]):
            col = data[:, c]
            if len(np.unique(col[~np.isnan(col)])) > max_levels:
                discrete = False
                break
    if discrete and "gsq" in have:
        return "gsq"
    if any(k == "categorical" for k in kinds) or discrete:
        return "mixed"
    return "fisherz"


def check_test_fits(test: str, names: Sequence[str], kinds: Sequence[str], data: np.ndarray,
                    max_levels: int = 10, where: str = "") -> None:
    """Refuse a contingency-table test on continuous columns, and a test on a kind of column it does
    not accept (its class's ``accepts``; e.g. ``gcm`` on a categorical one), in one line naming
    the column."""
    from causaltraits.independence import get_test_class

    accepts = getattr(get_test_class(test), "accepts", None)
    for name, kind in zip(names, kinds):
        if accepts is not None and kind not in accepts:
            raise ParameterError(
                f"{where + ': ' if where else ''}test '{test}' needs {'/'.join(accepts)} columns, but column "
                f"'{name}' is {kind}; use --test auto, mixed or lowrank")
    if test not in ("chisq", "gsq"):
        return
    for c, (name, kind) in enumerate(zip(names, kinds)):
        col = data[:, c]
        levels = len(np.unique(col[~np.isnan(col)]))
        if kind == "continuous" and levels > max_levels:
            raise ParameterError(
                f"{where + ': ' if where else ''}test '{test}' needs discrete columns, but column '{name}' is "
                f"continuous ({levels} distinct values); use --test auto, mixed or fisherz"
            )


# ---------------------------------------------------------------------- results
@dataclass
class DiscoveryResult:
    """What a discovery run found, with everything needed to explain it.

    Attributes
    ----------
    graph : the estimated graph (pattern for PC, PAG for FCI)
    citests : every CI test run (x, y, z names joined by ';', statistic, p-value, n, ...)
    adjacencies : one row per pair (``adjacencies.csv``): ``x, y`` (node order), ``adjacent``,
        ``edge`` (e.g. ``League --> Height``), ``removed_by`` (the conditioning set, names joined by
        ';', that removed the pair; for a kept pair the set of its largest p-value), ``pvalue``
        (that test's p-value), ``tests`` (CI tests run on the pair), ``reason`` (``kept``,
        ``skeleton``, ``possible-dsep`` or ``knowledge``)
    scores : scores against ``truth`` when the dataset has one, else None
    """

    graph: Graph
    citests: pd.DataFrame
    adjacencies: pd.DataFrame
    algorithm: str
    test: str
    alpha: float
    knowledge: Knowledge
    kinds: dict[str, str]
    seed: int
    truth: Graph | None = None
    scores: dict[str, float] | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    dataset_name: str = ""

    def edge_counts(self) -> dict[str, int]:
        from causaltraits.discovery.graph import EDGE_TYPES

        out = {t: 0 for t in EDGE_TYPES}
        for e in self.graph.edges:
            out[e.type] += 1
        return out

    def summary(self) -> str:
        """A short human-readable account of the run."""
        lines = [
            f"{self.algorithm.upper()} on {self.dataset_name or 'data'}: {len(self.graph.nodes)} variables, "
            f"test {self.test}, alpha {self.alpha:g}",
            f"CI tests run: {len(self.citests)} (repeats answered from memory: {self.info.get('memo_hits', 0)})",
            "edges: " + ", ".join(f"{t} {k}" for t, k in self.edge_counts().items() if k) + f" (total {len(self.graph)})",
        ]
        if self.scores:
            s = self.scores
            lines.append(
                f"vs truth: adjacency P/R/F1 {s['adj_precision']:.2f}/{s['adj_recall']:.2f}/{s['adj_f1']:.2f}, "
                f"arrowhead P/R/F1 {s['arrow_precision']:.2f}/{s['arrow_recall']:.2f}/{s['arrow_f1']:.2f}, "
                f"SHD {s['shd']}"
            )
        if self.timings_s:
            lines.append(f"time: {self.timings_s.get('search', 0.0):.2f} s search")
        return "\n".join(lines)

    def save(self, run: Any) -> None:
        """Write graph files, logs and scores into a run directory (a :class:`~causaltraits.runs.Run`
        or a path)."""
        from pathlib import Path

        from causaltraits.discovery import io as gio
        from causaltraits.runs import atomic_path, write_json

        base = Path(getattr(run, "path", run))
        base.mkdir(parents=True, exist_ok=True)
        gio.write_json(self.graph, base / "graph.json")
        gio.write_graphml(self.graph, base / "graph.graphml")
        gio.write_dot(self.graph, base / "graph.dot", tiers=self.knowledge.tiers)
        gio.draw_png(self.graph, base / "graph.png", tiers=self.knowledge.tiers,
                     title=f"{self.algorithm.upper()} ({self.test}, alpha {self.alpha:g}) on {self.dataset_name}")
        with atomic_path(base / "citests.csv") as tmp:
            self.citests.to_csv(tmp, index=False)
        with atomic_path(base / "adjacencies.csv") as tmp:
            self.adjacencies.to_csv(tmp, index=False)
        if self.truth is not None:
            gio.write_json(self.truth, base / "truth.json")
        if self.scores is not None:
            write_json(base / "scores.json", self.scores)


# ---------------------------------------------------------------------- driver
def _adjacency_frame(names: Sequence[str], log: TestLog, graph: Graph) -> pd.DataFrame:
    rows = []
    for i, j in combinations(range(len(names)), 2):
        rec = log.pairs.get((i, j), _PairRecord())
        e = graph.edge(names[i], names[j])
        adjacent = e is not None
        if adjacent:
            edge = f"{e.source} {e.type} {e.target}"
            zset, pv, reason = rec.max_p_set, rec.max_p, "kept"
        else:
            edge = ""
            zset = rec.removed_by or ()
            pv, reason = rec.removed_p, rec.reason or "removed"
        rows.append({
            "x": names[i], "y": names[j], "adjacent": adjacent, "edge": edge,
            "removed_by": ";".join(names[c] for c in zset) if (not adjacent or rec.tests) else "",
            "pvalue": pv, "tests": rec.tests, "reason": reason,
        })
    return pd.DataFrame(rows, columns=ADJ_COLUMNS)


def run_search(data: np.ndarray, names: Sequence[str], kinds: Sequence[str], *, algorithm: str = "pc",
               test: str = "fisherz", alpha: float = 0.05, knowledge: Knowledge | None = None, seed: int = 0,
               max_depth: int | None = None, pds_depth: int | None = 3, progress: bool = False,
               test_params: dict | None = None, cache_dir: Any = None) -> tuple[Graph, TestLog, dict]:
    """PC or FCI on a numeric matrix; returns (graph, test log, info)."""
    from causaltraits.independence import make_test

    algorithm = algorithm.lower()
    if algorithm not in ALGORITHMS:
        raise ParameterError(f"unknown algorithm '{algorithm}'; expected one of {', '.join(ALGORITHMS)}")
    names = list(names)
    if isinstance(test, str):
        citest = make_test(test, data, kinds=list(kinds), seed=seed, **(test_params or {}))
        citest = _maybe_cached(citest, cache_dir, names)
    else:  # a ready test object (e.g. a d-separation oracle in tests)
        citest = test
        test = getattr(test, "name", type(test).__name__)
    bar_ctx: Any = contextlib.nullcontext(None)
    if progress:
        from tqdm.auto import tqdm

        bar_ctx = tqdm(desc=f"{algorithm.upper()} CI tests ({test})", unit="test", leave=False, disable=None)
    info: dict[str, Any] = {}
    with bar_ctx as bar:
        log = TestLog(citest, names, alpha, progress=bar)
        p = len(names)
        if algorithm == "pc":
            adj, sepsets = skeleton(p, log, knowledge, max_depth, names)
            m = orient_pc(adj, sepsets, names, knowledge, info)
        else:
            m, sepsets = fci_search(p, log, names, knowledge, max_depth, pds_depth)
    if hasattr(citest, "close"):
        info["cache_hits"], info["cache_misses"] = citest.hits, citest.misses
        citest.close()
    info["memo_hits"] = log.hits
    return Graph.from_causallearn(m, names), log, info


def _maybe_cached(citest: Any, cache_dir: Any, names: Sequence[str]) -> Any:
    """Wrap a test in the persistent result cache (keyed by test, params, names and data hash)."""
    if cache_dir is None:
        return citest
    try:
        from causaltraits.independence.cache import CachedTest
    except ImportError:  # pragma: no cover - the cache module is optional
        return citest
    return CachedTest(citest, cache_dir, names)


@dataclass
class DiscoveryPlan:
    """What a discovery run will do, settled (and validated) before any work starts."""

    variables: list[str]
    kinds: list[str]
    data: np.ndarray
    test: str
    knowledge: Knowledge


def plan_discovery(ds: Any, algorithm: str = "pc", test: str = "auto", alpha: float = 0.05,
                   llm: str = "aggregate") -> DiscoveryPlan:
    """Validate the inputs of :func:`discover` and resolve ``test='auto'``; one-line errors.

    Raises :class:`~causaltraits.errors.CausalTraitsError` subclasses for an alpha outside
    (0, 1), an unknown algorithm, test or LLM, all-missing or constant variables, too few
    complete rows, and a contingency-table test on continuous columns.
    """
    from causaltraits.independence import get_test_class

    try:
        alpha_ok = 0.0 < float(alpha) < 1.0
    except (TypeError, ValueError):
        alpha_ok = False
    if not alpha_ok:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    if str(algorithm).lower() not in ALGORITHMS:
        raise ParameterError(f"unknown algorithm '{algorithm}'; expected one of {', '.join(ALGORITHMS)}")
    cols = ds.analysis_variables(llm)
    ds.check_variables(cols)
    data = ds.matrix(cols)
    kinds = ds.kinds(cols)
    test_used = choose_test(kinds, data) if test == "auto" else str(test)
    cls = get_test_class(test_used)  # unknown name -> one-line error
    if not getattr(cls, "conditional", True):
        raise ParameterError(f"test '{test_used}' is unconditional; PC and FCI need a conditional CI test")
    check_test_fits(test_used, cols, kinds, data, where=ds.source or ds.name)
    return DiscoveryPlan(list(cols), list(kinds), data, test_used, Knowledge.from_dataset(ds, cols))


def _truth_for(ds: Any, cols: Sequence[str], llm: str) -> Graph | None:
    """The dataset's true graph over ``cols`` (trait nodes renamed to one LLM's columns)."""
    from causaltraits.discovery.graph import Edge

    truth = ds.truth
    if llm != "aggregate":
        rename = dict(zip(ds.trait_columns("aggregate"), ds.trait_columns(llm)))
        truth = Graph([rename.get(v, v) for v in truth.nodes],
                      [Edge(rename.get(e.source, e.source), rename.get(e.target, e.target), e.type) for e in truth.edges])
    if not set(cols) <= set(truth.nodes):
        return None
    return truth.restricted(cols)


def discover(ds: Any, algorithm: str = "pc", test: str = "auto", alpha: float = 0.05, llm: str = "aggregate",
             seed: int = 0, *, max_depth: int | None = None, pds_depth: int | None = 3,
             knowledge: Knowledge | None = None, progress: bool = False, cache_dir: Any = None,
             test_params: dict | None = None) -> DiscoveryResult:
    """Estimate a causal graph over a dataset's analysis variables.

    Parameters
    ----------
    ds : a :class:`~causaltraits.data.Dataset`
    algorithm : ``pc`` (a pattern/CPDAG) or ``fci`` (a PAG; allows latent confounders)
    test : a registered CI test name, or ``auto`` (see :func:`choose_test`)
    alpha : significance level of every CI test
    llm : ``aggregate`` or an LLM name: which trait columns to use
    seed : seed of randomised tests
    max_depth : largest conditioning set in the skeleton search (None: no limit)
    pds_depth : FCI only: largest subset of Possible-D-Sep tried (None: no limit)
    knowledge : background knowledge (default: the dataset's tiers)
    progress : show a tqdm bar on stderr
    cache_dir : directory of the persistent CI-test cache (when available)

    Returns
    -------
    DiscoveryResult

    Examples
    --------
    >>> from causaltraits.data import load_dataset
    >>> res = discover(load_dataset("athle-demo"))      # doctest: +SKIP
    >>> print(res.summary())                             # doctest: +SKIP
    """
    from causaltraits.discovery.scores import score_graphs

    plan = plan_discovery(ds, algorithm=algorithm, test=test, alpha=alpha, llm=llm)
    cols, kinds, data, test_used = plan.variables, plan.kinds, plan.data, plan.test
    if knowledge is None:
        knowledge = plan.knowledge
    t0 = time.perf_counter()
    graph, log, info = run_search(data, cols, kinds, algorithm=algorithm, test=test_used, alpha=alpha,
                                  knowledge=knowledge, seed=seed, max_depth=max_depth, pds_depth=pds_depth,
                                  progress=progress, test_params=test_params, cache_dir=cache_dir)
    t_search = time.perf_counter() - t0
    bad = knowledge.violations(graph)
    if bad:  # a bug, not a user error: the search must never contradict the knowledge
        raise RuntimeError(f"graph contradicts the background knowledge: {', '.join(bad)}")
    truth = None
    scores = None
    if getattr(ds, "truth", None) is not None:
        truth = _truth_for(ds, cols, llm)
        if truth is not None:
            scores = score_graphs(graph, truth)
    return DiscoveryResult(
        graph=graph, citests=log.frame(), adjacencies=_adjacency_frame(cols, log, graph),
        algorithm=algorithm.lower(), test=test_used, alpha=float(alpha), knowledge=knowledge,
        kinds=dict(zip(cols, kinds)), seed=int(seed), truth=truth, scores=scores,
        timings_s={"search": t_search}, info=info, dataset_name=getattr(ds, "name", ""),
        params={"algorithm": algorithm.lower(), "test": test, "test_used": test_used, "alpha": float(alpha),
                "llm": llm, "seed": int(seed), "max_depth": max_depth, "pds_depth": pds_depth,
                "variables": list(cols), "knowledge": knowledge.to_dict()},
    )

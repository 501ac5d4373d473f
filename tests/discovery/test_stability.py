"""Bootstrap edge stability: seeded, reproducible, frequencies that add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causaltraits.discovery.stability import ORIENTED, bootstrap_edges, edge_frequencies, resample_rows
from causaltraits.errors import CausalTraitsError


def test_edge_frequencies_count_orientations():
    graphs = [[("a", "b", "-->")], [("b", "a", "-->")], [("a", "b", "o-o"), ("b", "c", "<->")], []]
    f = edge_frequencies(graphs, ["a", "b", "c"]).set_index(["x", "y"])
    assert f.loc[("a", "b"), "-->"] == 0.25 and f.loc[("a", "b"), "<--"] == 0.25
    assert f.loc[("a", "b"), "o-o"] == 0.25 and f.loc[("a", "b"), "adjacent"] == 0.75
    assert f.loc[("b", "c"), "<->"] == 0.25 and f.loc[("a", "c"), "none"] == 1.0
    assert f.loc[("a", "c"), "most_frequent"] == "none"
    total = f[[*ORIENTED, "none"]].sum(axis=1)
    assert np.allclose(total, 1.0)


def test_resamples_are_seeded_and_independent_of_count():
    assert np.array_equal(resample_rows(100, 3, 7), resample_rows(100, 3, 7))
    assert not np.array_equal(resample_rows(100, 3, 7), resample_rows(100, 3, 8))


def test_bootstrap_on_tiered_data(tiered):
    ds = tiered(n=600)
    f1 = bootstrap_edges(ds, 4, algorithm="pc", test="fisherz", seed=2)
    f2 = bootstrap_edges(ds, 4, algorithm="pc", test="fisherz", seed=2)
    assert f1.equals(f2)
    strong = f1.set_index(["x", "y"])
    assert strong.loc[("Height", "Extraversion"), "-->"] == 1.0  # knowledge + a strong effect
    assert strong.loc[("Height", "Extraversion"), "<--"] == 0.0
    with pytest.raises(CausalTraitsError):
        bootstrap_edges(ds, 0)


def test_a_resample_gives_the_same_edges_alone_or_among_others(tiered):
    from causaltraits.discovery.stability import bootstrap_graphs

    ds = tiered(n=300)
    many = bootstrap_graphs(ds, 4, test="fisherz", seed=9)
    assert bootstrap_graphs(ds, [2], test="fisherz", seed=9) == [many[2]]
    assert bootstrap_graphs(ds, [3, 0], test="fisherz", seed=9) == [many[3], many[0]]
    # resamples differ from each other (else the frequencies would say nothing)
    assert len({tuple(sorted(g)) for g in bootstrap_graphs(ds, 6, test="fisherz", seed=9, alpha=0.3)}) > 1
    with pytest.raises(CausalTraitsError, match="at least 1"):
        bootstrap_graphs(ds, [])


# ---------------------------------------------------------------------- on a dask cluster
@pytest.mark.parametrize("algorithm,test", [("pc", "fisherz"), ("fci", "rcit")])
def test_cluster_bootstrap_equals_serial(tiered, cluster, algorithm, test):
    # rcit draws random features: its seeds must reach the workers unchanged
    ds = tiered(n=300)
    kw = dict(algorithm=algorithm, test=test, seed=4, alpha=0.1)
    serial = bootstrap_edges(ds, 4, **kw)
    remote = bootstrap_edges(ds, 4, scheduler=cluster.scheduler_address, **kw)
    pd.testing.assert_frame_equal(remote, serial, check_exact=True)
    assert serial["adjacent"].between(0, 1).all() and serial["adjacent"].max() == 1.0


def test_cli_scheduler_run_writes_the_serial_stability(cluster, tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from causaltraits.cli import cli

    rng = np.random.default_rng(0)
    a = rng.normal(size=250)
    b = a + rng.normal(size=250)
    c = b + rng.normal(size=250)
    csv = tmp_path / "d.csv"
    pd.DataFrame({"a": a, "b": b, "c": c}).to_csv(csv, index=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["discover", "--data", str(csv), "--bootstrap", "5", "--seed", "3"]
    r1 = runner.invoke(cli, [*args, "--out", str(tmp_path / "serial")], catch_exceptions=False)
    r2 = runner.invoke(cli, [*args, "--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address],
                       catch_exceptions=False)
    assert r1.exit_code == 0 and r2.exit_code == 0, r2.output
    assert (tmp_path / "dask" / "stability.csv").read_bytes() == (tmp_path / "serial" / "stability.csv").read_bytes()
    st = pd.read_csv(tmp_path / "dask" / "stability.csv").set_index(["x", "y"])
    assert st.loc[("a", "b"), "adjacent"] == 1.0 and st.loc[("b", "c"), "adjacent"] == 1.0
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["parameters"]["scheduler"] == cluster.scheduler_address

"""The public API: every exported name resolves, and the README's Python example runs."""

import causaltraits as ct


def test_every_export_resolves():
    for name in ct.__all__:
        assert getattr(ct, name) is not None, name
    assert set(ct.__all__) <= set(dir(ct))


def test_readme_python_example():
    ds = ct.load_dataset("athle-demo")
    assert isinstance(ds, ct.Dataset) and ds.n == 4181
    res = ct.discover(ds, algorithm="pc", test="auto", alpha=0.05, seed=0, progress=False)
    assert isinstance(res.graph, ct.Graph)
    # the demo truth is recovered (adjacency F1 well above chance)
    assert res.scores["adj_f1"] >= 0.85
    assert "adjacency P/R/F1" in res.summary()
    bat = ct.run_battery(ds, tests=("fisherz", "chisq"), llm="aggregate")
    assert isinstance(bat, ct.BatteryResult)
    assert bat.traits == {"aggregate": list(ct.TRAITS)}


def test_unknown_attribute_is_an_attribute_error():
    try:
        ct.no_such_thing  # noqa: B018
    except AttributeError as e:
        assert "no_such_thing" in str(e)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")

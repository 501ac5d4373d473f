"""Fixtures for the data-layer tests: the layout writers of ``fixtures.py`` as the ``px`` fixture."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def load_fixture_module():
    """Import tests/data/fixtures.py by path (tests are not a package under --import-mode=importlib)."""
    path = Path(__file__).with_name("fixtures.py")
    spec = importlib.util.spec_from_file_location("causaltraits_test_data_fixtures", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def px():
    return load_fixture_module()


@pytest.fixture(autouse=True)
def _isolated_data_env(monkeypatch, tmp_path):
    """No test sees the user's cache or environment: the data root is a fresh tmp dir."""
    monkeypatch.setenv("CAUSALTRAITS_DATA", str(tmp_path / "cache-root"))

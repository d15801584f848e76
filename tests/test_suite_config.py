"""The suite's own guarantees: a hung test fails instead of hanging the run."""

from __future__ import annotations

import pytest


def test_a_per_test_timeout_is_in_force(pytestconfig: pytest.Config) -> None:
    # pytest-timeout reads this ini value; without it a regression that blocks (a lost wake-up,
    # a poll that never ends) would hang CI until its 90 minutes run out.
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert 0 < float(pytestconfig.getini("timeout")) <= 300


def test_property_tests_have_no_deadline() -> None:
    # A per-example deadline is a timed assertion: on a loaded machine it fails at random.
    from hypothesis import settings

    assert settings.default.deadline is None

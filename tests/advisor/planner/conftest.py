from __future__ import annotations

from pathlib import Path

import pytest

from omnipilot.advisor.planner.coefficients import Table, build_table
from omnipilot.advisor.planner.instance import Instance, load_instance
from omnipilot.advisor.planner.rates import RooflineRates
from omnipilot.advisor.planner.traces import make_instance

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def small_instance() -> Instance:
    return load_instance(HERE / "demand_small.toml")


@pytest.fixture(scope="session")
def small_table(small_instance: Instance) -> Table:
    return build_table(small_instance, RooflineRates())


@pytest.fixture(scope="session")
def synth_table() -> Table:
    return build_table(make_instance(5, 4, 3, seed=3), RooflineRates())

"""The fault-injection suite's cluster (:mod:`tests.faults.cluster`), shared by every
test in the suite (nodes are the slow part to start). A test that kills a node
starts it again before it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import PG_URL, REDIS_URL
from tests.faults.cluster import Cluster, running_cluster
from tests.faults.processes import missing_binaries


@pytest.fixture(scope="package")  # gone once the suite is done, not at the end of the run
async def cluster() -> AsyncIterator[Cluster]:
    # Skipped, like every PostgreSQL and Redis test, only where their URLs are unset
    # (a newcomer's plain `make test`); where they are set (CI), missing servers fail.
    if not (PG_URL and REDIS_URL):
        pytest.skip("the fault suite runs with FESTIVAL_TEST_DATABASE_URL and _REDIS_URL set")
    missing = missing_binaries()
    if missing:
        pytest.fail(f"the fault suite needs {', '.join(missing)} on this machine")
    async with running_cluster() as running:
        yield running

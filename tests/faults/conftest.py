"""The fault-injection suite's cluster (:mod:`tests.faults.cluster`), shared by every
test in the suite (nodes are the slow part to start). A test that kills a node
starts it again before it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.faults.cluster import Cluster, running_cluster
from tests.faults.processes import missing_binaries


@pytest.fixture(scope="package")  # gone once the suite is done, not at the end of the run
async def cluster() -> AsyncIterator[Cluster]:
    missing = missing_binaries()
    if missing:
        pytest.skip(f"the fault suite needs {', '.join(missing)}")
    async with running_cluster() as running:
        yield running

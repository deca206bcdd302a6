import shutil

import pytest


def pytest_configure(config):
    if shutil.which("bwrap") is None:
        raise pytest.UsageError("bubblewrap (bwrap) is required: run the suite through e2e-tests/telemetry/run.sh")

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import prov_golden as golden  # noqa: E402


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory):
    """One recorded run of the golden workflow (run id ``r1``)."""
    d = tmp_path_factory.mktemp("golden")
    golden.run_golden(d, "r1")
    return d

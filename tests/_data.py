"""Where the shared public datasets are: `$PROMPTOPS_DATA_DIR`, else `shared/data` beside the
checkout (as on developer machines and in CI). Tests that need them skip when absent."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA = Path(
    os.environ.get("PROMPTOPS_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)

"""Running local-model work on a Ray cluster (`--executor ray`), an optional extra.

`cluster` connects (or starts a local instance) and names the extra when Ray is missing;
`serving` puts the embedded model on Ray actors behind an HTTP transport, so an eval sends
through the same client, retries, cache and calibration as a single-process run;
`embedding` embeds a corpus with Ray Data for the dense index.
"""

from __future__ import annotations

from promptops.distributed.cluster import EXECUTORS, RaySettings, require_ray

__all__ = ["EXECUTORS", "RaySettings", "require_ray"]

"""A grid project on disk: the router eval project, a degraded second prompt and two
priced profiles (`cheap`, `dear`) on one local fake server."""

from __future__ import annotations

from pathlib import Path

from _eval_util import make_project
from _regress_util import degraded_prompt
from promptops.testing.openai_server import FakeOpenAIServer

PROFILES = """\
cheap:
  base_url: {url}
  model: small
  prices: {{input_per_mtok: 0.1, output_per_mtok: 0.4}}
dear:
  base_url: {url}
  model: big
  prices: {{input_per_mtok: 5.0, output_per_mtok: 15.0}}
"""


def grid_project(root: Path, server: FakeOpenAIServer, suite: str | None = None) -> Path:
    """The project, with profiles for `server`; returns the degraded prompt's path."""
    if suite is None:
        make_project(root)
    else:
        make_project(root, suite=suite)
    (root / "profiles.yaml").write_text(PROFILES.format(url=server.base_url), encoding="utf-8")
    return degraded_prompt(root)


def grid_args(degraded: Path, out: Path, *extra: str) -> list[str]:
    return [
        "eval",
        "router",
        "--prompt",
        "router",
        "--prompt",
        str(degraded),
        "--profile",
        "cheap",
        "--profile",
        "dear",
        "--out",
        str(out),
        *extra,
    ]

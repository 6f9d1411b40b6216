"""`python -m promptops` runs the CLI."""

from __future__ import annotations

from promptops.cli import main

main()

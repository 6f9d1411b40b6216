"""promptops: prompts and RAG pipelines as tested, versioned, monitored software.

The Python API (`load_prompt`, `Client`, `run_suite`) lives in `promptops.api` and is loaded
on first use, so `import promptops` pulls in neither the client nor the model stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptops.api import Client, SuiteRun, load_prompt, run_suite

    __version__: str

__all__ = ["Client", "SuiteRun", "__version__", "load_prompt", "run_suite"]

_API = frozenset({"Client", "SuiteRun", "load_prompt", "run_suite"})


def __getattr__(name: str) -> Any:
    """The API's names, and the version (read from the installed metadata), when first asked."""
    if name in _API:
        from promptops import api

        value: Any = getattr(api, name)
    elif name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("promptops")
        except PackageNotFoundError:  # running from a source tree without an install
            value = "0.0.0+unknown"
    else:
        raise AttributeError(f"module 'promptops' has no attribute {name!r}")
    globals()[name] = value
    return value

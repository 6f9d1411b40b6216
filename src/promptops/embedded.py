"""The embedded model's name, shared by the client that reaches it (`llm`) and the server that
runs it (`local`).

It lives in this core module, not in either package, so that `local` needs nothing from
`llm`: the client imports the server (in-process transport), never the other way round.
"""

from __future__ import annotations

EMBEDDED_MODEL = "smollm2-135m-instruct"

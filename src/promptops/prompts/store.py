"""Finding prompts by name, `name@version` or path in a prompts folder.

Several versions of a prompt may live side by side (e.g. `classify_intent.yaml` and
`classify_intent.v2.yaml`); a bare name means the highest semantic version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from promptops.errors import PromptFileError, UserInputError
from promptops.prompts.loader import load_prompt
from promptops.prompts.model import Prompt

DEFAULT_DIR = Path("prompts")


def prompts_dir(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    env = os.environ.get("PROMPTOPS_PROMPTS_DIR")
    return Path(env) if env else DEFAULT_DIR


def _version_key(version: str) -> tuple[tuple[int, int, int], int, str]:
    core, _, pre = version.partition("-")
    major, minor, patch = (int(p) for p in core.split("."))
    # a release sorts after its pre-releases
    return (major, minor, patch), 0 if pre else 1, pre


@dataclass
class PromptStore:
    root: Path
    prompts: list[Prompt] = field(default_factory=list)
    errors: list[PromptFileError] = field(default_factory=list)

    @classmethod
    def scan(cls, root: Path) -> PromptStore:
        """Load every *.yaml / *.yml under `root`; bad files are kept as errors, not skipped."""
        store = cls(root=root)
        if not root.is_dir():
            raise UserInputError("prompts folder not found", where=str(root))
        files = sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])
        seen: dict[str, str] = {}
        for path in files:
            try:
                prompt = load_prompt(path)
            except PromptFileError as exc:
                store.errors.append(exc)
                continue
            if prompt.identity in seen:
                store.errors.append(
                    PromptFileError(
                        f"{prompt.identity} is also defined in {seen[prompt.identity]}",
                        where=str(path),
                    )
                )
                continue
            seen[prompt.identity] = str(path)
            store.prompts.append(prompt)
        store.prompts.sort(key=lambda p: (p.name, _version_key(p.version)))
        return store

    def versions(self, name: str) -> list[Prompt]:
        return [p for p in self.prompts if p.name == name]

    def get(self, ref: str) -> Prompt:
        """Resolve `name`, `name@version`; a bare name is the latest version."""
        name, _, version = ref.partition("@")
        candidates = self.versions(name)
        if not candidates:
            known = ", ".join(sorted({p.name for p in self.prompts})) or "none"
            hint = f" ({len(self.errors)} file(s) failed to load)" if self.errors else ""
            raise UserInputError(
                f"no prompt named {name!r} in {self.root}{hint}; known: {known}", where=ref
            )
        if not version:
            return candidates[-1]
        for prompt in candidates:
            if prompt.version == version:
                return prompt
        have = ", ".join(p.version for p in candidates)
        raise UserInputError(f"no version {version} of {name!r}; have: {have}", where=ref)


def resolve_prompt(ref: str, root: Path | None = None) -> Prompt:
    """A prompt from a file path (if `ref` is an existing file) or from the prompts folder."""
    candidate = Path(ref)
    if candidate.suffix in {".yaml", ".yml"} or candidate.is_file():
        if not candidate.is_file():
            raise UserInputError("prompt file not found", where=ref)
        return load_prompt(candidate)
    return PromptStore.scan(prompts_dir(root)).get(ref)

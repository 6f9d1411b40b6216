"""The one exception tree of promptops.

    PromptopsError                  anything promptops raises on purpose
    ├── UserInputError              the user can fix it: bad file, bad flag, bad data (exit 2)
    │   ├── PromptFileError         a prompt YAML file is malformed or invalid
    │   ├── RenderError             a template cannot be rendered with the given variables
    │   ├── EvalsetError            an evalset or suite file is malformed or inconsistent
    │   ├── ConfigError             an endpoint profile, flag or setting is invalid
    │   └── ContextOverflowError    input does not fit the model's context window (policy "fail")
    └── LLMError                    a model call failed for good (after retries)

The CLI turns a `UserInputError` into one `where: reason` line on stderr and exit code 2,
never a traceback.
"""

from __future__ import annotations


class PromptopsError(Exception):
    """Base class: every error promptops raises on purpose."""

    exit_code = 1


class UserInputError(PromptopsError):
    """An error the user can fix; `where` names the file, line or field."""

    exit_code = 2

    def __init__(self, reason: str, where: str | None = None) -> None:
        self.reason = reason
        self.where = where
        super().__init__(f"{where}: {reason}" if where else reason)


class PromptFileError(UserInputError):
    """A prompt file failed to parse or validate."""


class RenderError(UserInputError):
    """A prompt template could not be rendered (missing, unknown or oversize variables)."""


class EvalsetError(UserInputError):
    """An evalset, suite or corpus file is malformed or inconsistent."""


class ConfigError(UserInputError):
    """An endpoint profile, command-line option or setting is invalid."""


class ContextOverflowError(UserInputError):
    """The input cannot fit the model's context window and the policy says fail."""


class LLMError(PromptopsError):
    """A model call failed after every allowed retry; `kind` is the last failure's class."""

    def __init__(self, message: str, kind: str, attempts: int) -> None:
        self.kind = kind
        self.attempts = attempts
        super().__init__(message)

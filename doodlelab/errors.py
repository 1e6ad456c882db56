"""User-facing errors: the CLI prints them as one line on stderr and exits with code 2."""

from __future__ import annotations


class DoodleError(Exception):
    """Base class for errors caused by bad input or configuration (never by a bug)."""


class DataError(DoodleError, ValueError):
    """A data file or record is malformed; the message names the file and line where known."""

    def __init__(self, message: str, path: object = None, line: int | None = None):
        self.reason = message
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


class ConfigError(DoodleError, ValueError):
    """A training or sampling setting out of range (every config's checks raise this one class)."""


class UnknownCategoryError(DoodleError, KeyError):
    """A category name that is not one of the 345 Quick, Draw! categories."""

    def __init__(self, name: str, suggestions: list[str] | None = None):
        self.name = name
        hint = f" (did you mean: {', '.join(suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown category {name!r}{hint}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]

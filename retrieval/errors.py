"""Errors raised by the retrieval package; each says what was received and what is allowed."""

from __future__ import annotations


class CatalogueError(ValueError):
    """A catalogue file cannot be read: names the file and the line at fault."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}" + (f", line {line}" if line is not None else "") + ": "
        super().__init__(where + message)
        self.path = path
        self.line = line


class IndexNotFoundError(FileNotFoundError):
    """No index (or an incomplete one) at the folder asked for."""

    def __init__(self, path, reason: str = "no manifest.json"):
        super().__init__(
            f"no preloved index at {path} ({reason}): build one with "
            f"`preloved index --catalog FILE.jsonl --out {path}`"
        )
        self.path = str(path)


class IndexFormatError(ValueError):
    """The index was written by an incompatible version of this package, or is damaged."""


class EmptyQueryError(ValueError):
    """The query has nothing to search for: only stop words, punctuation or white space."""

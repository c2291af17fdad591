"""Typed results: frozen dataclasses that turn into JSON-ready dicts the same way everywhere.

`Result.to_dict()` is what `python -m llmmem ... --json` prints and what the app's API returns, so a
result is built once and never re-read as a nested dict by a front end.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping


def jsonable(value: Any) -> Any:
    """Dataclass results, mappings and sequences -> plain dicts and lists (ints stay ints)."""
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class Result:
    """Mixin for frozen dataclasses: `to_dict()` in field order."""

    def to_dict(self) -> dict:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

"""Bundled configs of popular models: the offline default. (Minimal version: being extended.)"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class CatalogEntry:
    repo_id: str
    config_file: str


def entries() -> list[CatalogEntry]:
    files = sorted(p.name for p in resources.files(__package__).joinpath("configs").iterdir() if p.name.endswith(".json"))
    return [CatalogEntry(f[: -len(".json")].replace("__", "/"), f) for f in files]


def find(name: str) -> CatalogEntry | None:
    wanted = name.strip().lower()
    for entry in entries():
        if entry.repo_id.lower() == wanted or entry.repo_id.split("/")[1].lower() == wanted:
            return entry
    return None


def load_config(entry: CatalogEntry) -> dict:
    return json.loads(resources.files(__package__).joinpath("configs", entry.config_file).read_text(encoding="utf-8"))

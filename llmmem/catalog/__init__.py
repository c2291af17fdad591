"""Bundled configs of popular models: the offline default, and the app's autocomplete.

models.tsv lists every model: its repo ID, the config file in configs/ that gives its architecture (an
Instruct or chat variant with the same shapes shares its base's file), the exact parameter count, and
where the config and the count come from. Reading it is cheap (csv, no pandas) and done once.
"""

from __future__ import annotations

import csv
import difflib
import functools
import json
from dataclasses import dataclass
from importlib import resources

from ..errors import ModelNotFoundError

MODELS_TABLE = "models.tsv"
COLUMNS = ("repo_id", "config", "parameters", "config_source", "count_source", "note")


@dataclass(frozen=True)
class CatalogEntry:
    repo_id: str
    config_file: str  # a file in configs/
    parameters: int = 0  # exact, as transformers allocates it (see count_source)
    config_source: str = ""
    count_source: str = ""
    note: str = ""

    @property
    def name(self) -> str:
        """The bare name: `Llama-3.1-8B` for meta-llama/Llama-3.1-8B."""
        return self.repo_id.rpartition("/")[2]

    @property
    def config_repo_id(self) -> str:
        """The repo whose config.json the config file is (org__name.json)."""
        return self.config_file.removesuffix(".json").replace("__", "/")

    @property
    def shares_config(self) -> bool:
        return self.config_repo_id.lower() != self.repo_id.lower()


@functools.lru_cache(maxsize=1)
def entries() -> tuple[CatalogEntry, ...]:
    text = resources.files(__package__).joinpath(MODELS_TABLE).read_text(encoding="utf-8")
    rows = csv.DictReader((line for line in text.splitlines() if line and not line.startswith("#")), delimiter="\t")
    return tuple(
        CatalogEntry(row["repo_id"], row["config"], int(row["parameters"]), row["config_source"], row["count_source"], row["note"] or "")
        for row in rows
    )


def names() -> list[str]:
    """Every repo ID in the catalog, sorted case-insensitively (for autocomplete)."""
    return sorted((entry.repo_id for entry in entries()), key=str.lower)


def find(name: str, among: tuple[CatalogEntry, ...] | None = None) -> CatalogEntry | None:
    """A repo ID (any case) or an unambiguous bare name -> its entry; None when the catalog lacks it.

    A bare name that several owners share raises ModelNotFoundError listing them.
    """
    pool = entries() if among is None else among
    wanted = name.strip().lower()
    for entry in pool:
        if entry.repo_id.lower() == wanted:
            return entry
    if "/" in wanted:
        return None
    matches = [entry for entry in pool if entry.name.lower() == wanted]
    if len(matches) > 1:
        listed = ", ".join(sorted(entry.repo_id for entry in matches))
        raise ModelNotFoundError(f"{name.strip()!r} names several catalog models ({listed}): give the full ID")
    return matches[0] if matches else None


def suggestions(name: str, limit: int = 3) -> list[str]:
    """Catalog repo IDs close to a misspelled name (for 'did you mean')."""
    wanted = name.strip().lower()
    by_key = {}
    for entry in entries():
        by_key.setdefault(entry.repo_id.lower(), entry.repo_id)
        by_key.setdefault(entry.name.lower(), entry.repo_id)
    close = difflib.get_close_matches(wanted, list(by_key), n=limit * 2, cutoff=0.75)
    return list(dict.fromkeys(by_key[key] for key in close))[:limit]


def load_config(entry: CatalogEntry) -> dict:
    return json.loads(resources.files(__package__).joinpath("configs", entry.config_file).read_text(encoding="utf-8"))

"""What the user typed -> a ModelSpec: a local config, a parameter count, the catalog, or the Hub.

The one path both app.py and cli.py call. Cheap checks come first, so a parameter count or a local
file never waits on the network, and huggingface_hub is imported only when the Hub is really asked.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .architectures import spec_from_config
from .errors import ConfigError, GatedModelError, HubUnavailableError, InputError, ModelNotFoundError
from .spec import ModelSpec

SOURCES = ("config", "catalog", "hub", "parameter-count")


@dataclass(frozen=True)
class Resolved:
    spec: ModelSpec
    source: str  # one of SOURCES
    notes: tuple[str, ...] = ()
    # When the Hub answered: the commit it answered from, and the checkpoint's safetensors
    # parameter counts by dtype (e.g. {"BF16": 8030261248}; a GPTQ repo shows I32 + F16).
    revision: str | None = None
    safetensors: Mapping[str, int] | None = None


# NOTE: suffixes people write after a count; "B" means billion here, never bytes.
_SCALES = {
    "": 1,
    "k": 10**3, "thousand": 10**3,
    "m": 10**6, "mn": 10**6, "million": 10**6,
    "b": 10**9, "bn": 10**9, "g": 10**9, "billion": 10**9,
    "t": 10**12, "trillion": 10**12,
}
_COUNT = re.compile(r"^\s*(?P<number>[0-9][0-9,_]*(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*(?P<scale>[a-z]*)\s*(?:param(?:eter)?s?)?\s*$", re.I)
MAX_PARAMETERS = 10**15  # a quadrillion: far beyond any model, small enough to catch typos like 1e40


def parse_parameter_count(text: str) -> int:
    """'70B', '7e9', '8.03 billion', '1.5T', '350M', '1,234,567' -> an int count of parameters."""
    raw = text if isinstance(text, str) else str(text)
    match = _COUNT.match(raw)
    hint = "write a parameter count like 70B, 7e9, 350M or 1,234,567"
    if not match or match["scale"].lower() not in _SCALES:
        raise InputError(f"{raw.strip()!r} is not a parameter count: {hint}")
    number = match["number"].replace(",", "").replace("_", "")
    try:
        value = float(number) * _SCALES[match["scale"].lower()]
    except ValueError:
        raise InputError(f"{raw.strip()!r} is not a parameter count: {hint}") from None
    if not math.isfinite(value) or value < 1:
        raise InputError(f"{raw.strip()!r} is not a positive parameter count: {hint}")
    if value > MAX_PARAMETERS:
        raise InputError(f"{raw.strip()!r} is more than 10^15 parameters: check the number, {hint}")
    # NOTE: exact integers stay exact (float would round 405853388800 fine, but not 20-digit inputs).
    if match["scale"] == "" and re.fullmatch(r"[0-9,_]+", match["number"]):
        return int(number)
    return round(value)


# NOTE: what a person meant as a number (a sign, a leading digit, nan/inf) goes to the count parser,
# so a bad number gets the count's message rather than "not a model ID".
_NUMBER_LIKE = re.compile(r"^\s*(?:[-+]?\s*[0-9.]|[-+]?(?:nan|inf|infinity)\s*$)", re.I)


def looks_like_parameter_count(text: str) -> bool:
    return bool(_NUMBER_LIKE.match(text)) and not _is_path_like(text)


def _is_path_like(text: str) -> bool:
    return text.endswith(".json") or "/" in text or text.startswith(".")


def load_config_file(path: Path) -> dict:
    """A config.json file, or a folder holding one -> the dict. Errors say what to do."""
    if path.is_dir():
        path = path / "config.json"
        if not path.is_file():
            raise ConfigError(f"{path.parent} has no config.json: point to the model's config.json or its folder")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc.__class__.__name__}; check the path and permissions") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON (line {exc.lineno}): give the model's config.json") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path} holds JSON but not an object: give the model's config.json")
    return config


def resolve(
    text: str, *, token: str | None = None, offline: bool = False, revision: str | None = None, prefer_catalog: bool = False
) -> Resolved:
    """Resolve what the user typed, trying the cheap sources first.

    A full Hub ID asks the Hub first (its files are the truth) and falls back to the catalog; with
    prefer_catalog=True a catalog model with no pinned revision answers at once, without the network.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("no model given: type a model ID like meta-llama/Llama-3.1-8B, a config.json path, or a count like 70B")
    text = text.strip()
    path = Path(text).expanduser()
    if _is_path_like(text) and path.exists():
        config = load_config_file(path)
        return Resolved(spec_from_config(config, name=_name_from_path(path)), "config")
    if looks_like_parameter_count(text):
        count = parse_parameter_count(text)
        return Resolved(ModelSpec(name=f"{text} parameters", parameters=count), "parameter-count")
    if text.endswith(".json") and "://" not in text and not text.lower().startswith(("huggingface.co/", "hf.co/")):
        raise ConfigError(f"no such file: {text}; check the path to the config.json")
    return _resolve_model_id(text, token=token, offline=offline, revision=revision, prefer_catalog=prefer_catalog)


def _name_from_path(path: Path) -> str:
    folder = path if path.is_dir() else path.parent
    return path.stem if path.is_file() and path.name != "config.json" else folder.name or str(path)


def _resolve_model_id(text: str, *, token: str | None, offline: bool, revision: str | None, prefer_catalog: bool) -> Resolved:
    """A catalog name, a Hub ID or URL. Full IDs ask the Hub first; the catalog answers when it cannot."""
    from . import catalog, hub  # NOTE: hub imports huggingface_hub only inside fetch()

    ref = hub.parse_model_ref(text, revision=revision)  # refuses bad input before any network call
    if ref.is_bare:
        entry = catalog.find(ref.repo_id)
        if entry is None:
            raise ModelNotFoundError(f"{text!r} is not in the bundled catalog{_suggest(catalog, ref.repo_id)}: give the full Hub ID (org/name), a config.json or a count like 70B")
        return _from_catalog(entry, notes=(f"revision {ref.revision} not checked: the catalog holds one version",) if ref.revision else ())
    if prefer_catalog and ref.revision is None:
        entry = catalog.find(ref.repo_id)
        if entry is not None:
            return _from_catalog(entry)
    why_offline = "offline mode" if offline else hub.hub_offline_reason()
    if why_offline:
        entry = catalog.find(ref.repo_id)
        if entry is None:
            raise HubUnavailableError(f"{why_offline}, and {ref.repo_id} is not in the bundled catalog{_suggest(catalog, ref.repo_id)}: go online, or give its config.json or a count like 70B")
        return _from_catalog(entry, notes=(f"{why_offline}: showing the bundled entry{_unchecked(ref)}",))
    token = hub.clean_token(token)
    try:
        model = hub.fetch(ref, token=token)
    except HubUnavailableError as exc:
        entry = catalog.find(ref.repo_id)
        if entry is None:
            raise
        return _from_catalog(entry, notes=(f"the Hub did not answer ({_reason(exc)}): showing the bundled entry{_unchecked(ref)}",))
    except GatedModelError as exc:
        entry = catalog.find(ref.repo_id)
        if entry is None:
            raise
        reason, _, advice = str(exc).partition(": ")
        return _from_catalog(entry, notes=(f"{reason}: showing the bundled entry{_unchecked(ref)}; for the repo's own files, {advice}",))
    spec, notes = hub.spec_from_hub(model)
    return Resolved(spec, "hub", notes, revision=model.sha, safetensors=model.safetensors)


def _from_catalog(entry, notes: tuple[str, ...] = ()) -> Resolved:
    from . import catalog

    spec = spec_from_config(catalog.load_config(entry), name=entry.repo_id)
    if entry.shares_config:
        notes = notes + (f"architecture from {entry.config_repo_id}'s config.json (same shapes)",)
    return Resolved(spec, "catalog", notes)


def _unchecked(ref) -> str:
    return f" (revision {ref.revision} not checked)" if ref.revision else ""


def _reason(exc: Exception) -> str:
    """An error's line without its closing advice, to quote inside a note."""
    return str(exc).rpartition(": ")[0] or str(exc)


def _suggest(catalog, name: str) -> str:
    close = catalog.suggestions(name)
    return f" (did you mean {' or '.join(close)}?)" if close else ""

"""What the user typed -> a ModelSpec: a local config, a parameter count, the catalog, or the Hub.

The one path both app.py and cli.py call. Cheap checks come first, so a parameter count or a local
file never waits on the network, and huggingface_hub is imported only when the Hub is really asked.
All of it is bounded: the text's length first, then a linear count scanner; local files (CLI and library
only: a server passes allow_local_files=False and the text never reaches the file system) must be regular
files of at most MAX_CONFIG_BYTES; every config.json passes config_check before any count.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .architectures import spec_from_config
from .config_check import MAX_CONFIG_BYTES
from .errors import ConfigError, GatedModelError, HubUnavailableError, InputError, ModelNotFoundError
from . import hub  # NOTE: hub imports huggingface_hub only inside fetch()
from .hub import MAX_REVISION, clean_token, quoted
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
_PARAMETER_WORDS = frozenset({"param", "params", "parameter", "parameters"})
MAX_PARAMETERS = 10**15  # a quadrillion: far beyond any model, small enough to catch typos like 1e40
# NOTE: every text is cut to size before any parsing. A Hub ID is at most 96 + 1 + 96 characters and a
# revision 255 in principle, but no model, URL or count a person types needs more than 256; a local path
# (CLI/library only) may be as long as Linux allows.
MAX_MODEL_TEXT = 256
MAX_PATH_TEXT = 4096
_COUNT_HINT = "write a parameter count like 70B, 7e9, 350M or 1,234,567"
# NOTE: one fixed line for every input that would need the file system when local files are not allowed:
# it never quotes the input and never depends on whether such a path exists.
LOCAL_FILES_REFUSED = ("local files are not read here: give a Hub model ID like meta-llama/Llama-3.1-8B, "
                       "a huggingface.co model URL, a catalog name or a parameter count like 70B")


def _scan_count(text: str) -> tuple[str, str] | None:
    """(number, scale) of `ws* number ws* [scale] ws* [param word] ws*`, or None. One pass, no backtracking.

    number: digit [digit , _]* ['.' digit+] [e [+-] digit+]
    """
    i, n = 0, len(text)
    while i < n and text[i].isspace():
        i += 1
    start = i
    if i >= n or not ("0" <= text[i] <= "9"):
        return None
    while i < n and (("0" <= text[i] <= "9") or text[i] in ",_"):
        i += 1
    if i < n and text[i] == ".":
        j = i + 1
        while j < n and "0" <= text[j] <= "9":
            j += 1
        if j == i + 1:
            return None
        i = j
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        k = j
        while k < n and "0" <= text[k] <= "9":
            k += 1
        if k > j:  # an exponent; otherwise the 'e' is not part of the number (and fails as a scale below)
            i = k
    number = text[start:i]
    words = []
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        j = i
        while j < n and text[j].isascii() and text[j].isalpha():
            j += 1
        if j == i or len(words) == 2:
            return None
        words.append(text[i:j].lower())
        i = j
    if not words:
        return number, ""
    if len(words) == 1:
        word = words[0]
        return (number, "") if word in _PARAMETER_WORDS else (number, word)
    return (number, words[0]) if words[1] in _PARAMETER_WORDS else None


def parse_parameter_count(text: str) -> int:
    """'70B', '7e9', '8.03 billion', '1.5T', '350M', '1,234,567' -> an int count of parameters.

    Linear in the length of the text (a hand-written scanner, no backtracking regex).
    """
    raw = text if isinstance(text, str) else str(text)
    shown = _shown(raw.strip())
    scanned = _scan_count(raw)
    if scanned is None or scanned[1] not in _SCALES:
        raise InputError(f"{shown} is not a parameter count: {_COUNT_HINT}")
    number_text, scale = scanned
    number = number_text.replace(",", "").replace("_", "")
    if len(number) > 64:
        raise InputError(f"{shown} has {len(number)} digits: check the number, {_COUNT_HINT}")
    try:
        value = float(number) * _SCALES[scale]
    except ValueError:
        raise InputError(f"{shown} is not a parameter count: {_COUNT_HINT}") from None
    if not math.isfinite(value) or value < 1:
        raise InputError(f"{shown} is not a positive parameter count: {_COUNT_HINT}")
    if value > MAX_PARAMETERS:
        raise InputError(f"{shown} is more than 10^15 parameters: check the number, {_COUNT_HINT}")
    # NOTE: exact integers stay exact (float would round 405853388800 fine, but not 20-digit inputs).
    if scale == "" and number.isdigit():
        return int(number)
    return round(value)


def _shown(text: str) -> str:
    """The input as an error message may quote it: one line, at most about 60 characters."""
    return quoted(text, 60, 50)


def looks_like_parameter_count(text: str) -> bool:
    """What a person meant as a number (a sign, a leading digit, nan/inf) goes to the count parser, so a
    bad number gets the count's message rather than "not a model ID". Linear: no regex."""
    if _is_path_like(text):
        return False
    rest = text.lstrip()
    if rest[:1] in ("-", "+"):
        rest = rest[1:].lstrip()
    if rest[:1].isdigit() and rest[:1].isascii() or rest[:1] == ".":
        return True
    return rest.strip().lower() in ("nan", "inf", "infinity")


def _is_path_like(text: str) -> bool:
    return text.endswith(".json") or "/" in text or text.startswith(".")


def _is_hub_url(text: str) -> bool:
    return "://" in text or text.lower().startswith(("huggingface.co/", "hf.co/", "www.huggingface.co/", "www.hf.co/"))


def _needs_file_system(text: str) -> bool:
    """Text that only a local path could mean (judged on the text alone, never on the file system)."""
    if _is_hub_url(text):
        return False
    head = text.split("@", 1)[0]
    return (text.startswith(("/", "~", ".", "\\")) or "\\" in text or text.endswith((".json", "/"))
            or head.count("/") > 1 or ".." in head or (len(text) > 1 and text[1] == ":") or "\x00" in text)


def load_config_file(path: Path) -> dict:
    """A config.json file, or a folder holding one -> the dict. Errors say what to do.

    Only a regular file of at most MAX_CONFIG_BYTES is read: a pipe (/proc/self/fd/N), a device
    (/dev/zero) or a huge file is refused before a byte is read, so no path can hang or exhaust the caller.
    """
    try:
        if path.is_dir():
            path = path / "config.json"
            if not path.exists():
                raise ConfigError(f"{_shown(str(path.parent))} has no config.json: point to the model's config.json or its folder")
        raw = _read_regular_file(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read {_shown(str(path))}: {_why(exc)}; check the path and permissions") from None
    try:
        config = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{_shown(str(path))} is not UTF-8 text: give the model's config.json") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{_shown(str(path))} is not valid JSON (line {exc.lineno}): give the model's config.json") from None
    except RecursionError:
        raise ConfigError(f"{_shown(str(path))} nests JSON too deeply for a config.json: give the model's config.json") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{_shown(str(path))} holds JSON but not an object: give the model's config.json")
    return config


def _read_regular_file(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a regular file; anything else (pipe, device, socket, larger file) is refused."""
    # NOTE: O_NONBLOCK so that opening a FIFO cannot block; the type is checked on the open descriptor
    # (fstat), so a path swapped between a check and the open cannot slip through.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{_shown(str(path))} is not a regular file: point to the model's config.json or its folder")
        if info.st_size > limit:
            raise ConfigError(f"{_shown(str(path))} is {info.st_size:,} bytes, more than the {limit:,} a config.json may be: give the model's config.json")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # a file that grew while it was read
            raise ConfigError(f"{_shown(str(path))} is more than the {limit:,} bytes a config.json may be: give the model's config.json")
        return b"".join(chunks)
    finally:
        os.close(fd)


def resolve(
    text: str, *, token: str | None = None, offline: bool = False, revision: str | None = None, prefer_catalog: bool = False,
    allow_local_files: bool = True,
) -> Resolved:
    """Resolve what the user typed, trying the cheap sources first.

    A full Hub ID asks the Hub first (its files are the truth) and falls back to the catalog; with
    prefer_catalog=True a catalog model with no pinned revision answers at once, without the network.
    With allow_local_files=False (a server: the app and its API) the text never reaches the file system:
    only a Hub ID or URL, a catalog name or a count is accepted, and anything else gets LOCAL_FILES_REFUSED.
    """
    if not isinstance(text, str) or not text.strip():
        path = "a config.json path, " if allow_local_files else "a huggingface.co URL, "
        raise InputError(f"no model given: type a model ID like meta-llama/Llama-3.1-8B, {path}or a count like 70B")
    limit = MAX_PATH_TEXT if allow_local_files else MAX_MODEL_TEXT
    if len(text) > limit:
        raise InputError(f"the model is {len(text):,} characters long, more than {limit}: give a model ID like "
                         "meta-llama/Llama-3.1-8B, a huggingface.co URL or a count like 70B")
    text = text.strip()
    token = clean_token(token)  # bounded and checked before anything else, never quoted back
    if revision is not None and (not isinstance(revision, str) or len(revision) > MAX_REVISION):
        raise InputError(f"the revision must be a branch, tag or commit of at most {MAX_REVISION} characters")
    if not allow_local_files:
        if _needs_file_system(text):
            raise InputError(LOCAL_FILES_REFUSED)
    elif _is_path_like(text):
        path = _existing_path(text)
        if path is not None:
            config = load_config_file(path)
            return Resolved(_bounded(spec_from_config(config, name=_name_from_path(path))), "config")
    if looks_like_parameter_count(text):
        count = parse_parameter_count(text)
        return Resolved(ModelSpec(name=f"{text} parameters", parameters=count), "parameter-count")
    if allow_local_files and text.endswith(".json") and not _is_hub_url(text):
        raise ConfigError(f"no such file: {_shown(text)}; check the path to the config.json")
    return _resolve_model_id(text, token=token, offline=offline, revision=revision, prefer_catalog=prefer_catalog,
                             allow_local_files=allow_local_files)


def _why(exc: Exception) -> str:
    """The OS's reason without the path it names ("File name too long", "Permission denied")."""
    return getattr(exc, "strerror", None) or exc.__class__.__name__


def _existing_path(text: str) -> Path | None:
    """The local path the text names, if something exists there (CLI and library only)."""
    try:
        path = Path(text).expanduser()
        return path if path.exists() else None
    except RuntimeError:  # "~user" for a user this machine does not know
        return None
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, a folder we may not enter
        raise ConfigError(f"cannot read {_shown(text)}: {_why(exc)}; check the path and permissions") from None


def _bounded(spec: ModelSpec) -> ModelSpec:
    """Each config field has its own generous limit; their product may still describe an absurd model."""
    if spec.parameters > MAX_PARAMETERS:
        raise ConfigError(f"config.json describes {spec.parameters:.3g} parameters, more than 10^15: "
                          "check its sizes, or give a parameter count like 70B")
    return spec


def _name_from_path(path: Path) -> str:
    folder = path if path.is_dir() else path.parent
    return path.stem if path.is_file() and path.name != "config.json" else folder.name or str(path)


def _resolve_model_id(text: str, *, token: str | None, offline: bool, revision: str | None, prefer_catalog: bool,
                      allow_local_files: bool = True) -> Resolved:
    """A catalog name, a Hub ID or URL. Full IDs ask the Hub first; the catalog answers when it cannot."""
    from . import catalog  # NOTE: only model names need it: a count or a local file answers without

    ref = hub.parse_model_ref(text, revision=revision)  # refuses bad input before any network call
    if ref.is_bare:
        return _catalog_or(ref, f"revision {ref.revision} not checked: the catalog holds one version" if ref.revision else None,
                           lambda: ModelNotFoundError(f"{text!r} is not in the bundled catalog{_suggest(catalog, ref.repo_id)}: give the full Hub ID (org/name), {'a config.json' if allow_local_files else 'a Hub URL'} or a count like 70B"))
    if prefer_catalog and ref.revision is None:
        entry = catalog.find(ref.repo_id)
        if entry is not None:
            return _from_catalog(entry)
    why_offline = "offline mode" if offline else hub.hub_offline_reason()
    if why_offline:
        return _catalog_or(ref, f"{why_offline}: showing the bundled entry{_unchecked(ref)}",
                           lambda: HubUnavailableError(f"{why_offline}, and {ref.repo_id} is not in the bundled catalog{_suggest(catalog, ref.repo_id)}: go online, or give {'its config.json' if allow_local_files else 'a catalog model'} or a count like 70B"))
    with hub.local_files_offered(allow_local_files):
        return _from_hub(ref, token=token)


def _from_hub(ref, *, token: str | None) -> Resolved:
    try:
        model = hub.fetch(ref, token=token)
    except HubUnavailableError as exc:
        return _catalog_or(ref, f"the Hub did not answer ({_reason(exc)}): showing the bundled entry{_unchecked(ref)}", lambda exc=exc: exc)
    except GatedModelError as exc:
        reason, _, advice = str(exc).partition(": ")
        return _catalog_or(ref, f"{reason}: showing the bundled entry{_unchecked(ref)}; for the repo's own files, {advice}", lambda exc=exc: exc)
    spec, notes = hub.spec_from_hub(model)
    return Resolved(_bounded(spec), "hub", notes, revision=model.sha, safetensors=model.safetensors)


def _catalog_or(ref, note: str | None, missing) -> Resolved:
    """The bundled entry for `ref`, with `note`; when the catalog has none, the error `missing()` builds."""
    from . import catalog

    entry = catalog.find(ref.repo_id)
    if entry is None:
        raise missing()
    return _from_catalog(entry, notes=(note,) if note else ())


def _from_catalog(entry, notes: tuple[str, ...] = ()) -> Resolved:
    from . import catalog

    spec = spec_from_config(catalog.load_config(entry), name=entry.repo_id)
    if entry.shares_config:
        notes = notes + (f"architecture from {entry.config_repo_id}'s config.json (same shapes)",)
    return Resolved(_bounded(spec), "catalog", notes)


def _unchecked(ref) -> str:
    return f" (revision {ref.revision} not checked)" if ref.revision else ""


def _reason(exc: Exception) -> str:
    """An error's line without its closing advice, to quote inside a note."""
    return str(exc).rpartition(": ")[0] or str(exc)


def _suggest(catalog, name: str) -> str:
    close = catalog.suggestions(name)
    return f" (did you mean {' or '.join(close)}?)" if close else ""

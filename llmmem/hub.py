"""The Hugging Face Hub adapter: a model ID or URL -> config.json and safetensors counts, with clear errors.

Three parts, in order of cost:
- parse_model_ref: what the user typed -> ModelRef(repo_id, revision). Pure; refuses bad input before
  any network call and never imports huggingface_hub.
- fetch: ModelRef -> HubModel (the Hub's facts: config.json, safetensors counts by dtype, commit).
  huggingface_hub is imported here, only when the Hub is really asked. Results live in a small
  in-memory cache keyed on (repo, revision, sha256 of the token), so one user's token never serves
  another. Nothing is written to disk: no token, no gated file.
- spec_from_hub: HubModel -> (ModelSpec, notes). Pure: the config gives the shape, the safetensors
  total the parameter count, and the notes say where they disagree.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Mapping
from urllib.parse import quote, unquote, urlsplit

from .architectures import spec_from_config
from .errors import ConfigError, GatedModelError, HubUnavailableError, InputError, ModelNotFoundError
from .spec import ModelSpec

DEFAULT_ENDPOINT = "https://huggingface.co"
HUB_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co", "www.hf.co"})
DEFAULT_TIMEOUT_S = 5.0
MAX_NAME_PART = 96  # the Hub's limit for an owner or a repo name (huggingface_hub's REPO_ID_REGEX)
MAX_REVISION = 255
MAX_INPUT = 2048
# NOTE: model_info's "config" is the Hub's digest of config.json (model_type, architectures,
# quantization_config), not the whole file, so config.json itself is fetched as well.
EXPAND = ["safetensors", "config", "gated", "sha"]

_NAME_PART = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_REVISION = re.compile(r"[A-Za-z0-9_.\-/]+")
_REVISION_SEGMENTS = frozenset({"tree", "blob", "resolve", "raw", "commit", "commits", "edit"})
_NOT_MODELS = {"datasets": "a dataset", "spaces": "a Space", "buckets": "a storage bucket", "collections": "a collection",
               "papers": "a paper", "docs": "documentation", "organizations": "an organization", "settings": "a settings page"}
# safetensors dtypes that only low-bit (packed or scaled) checkpoints use
_QUANTIZED_DTYPES = frozenset({"I32", "U32", "I8", "U8", "I4", "U4", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2"})

_EXAMPLE = "give a model ID like meta-llama/Llama-3.1-8B or a huggingface.co model URL"


@dataclass(frozen=True)
class ModelRef:
    """A model the user named: `org/name` (or a bare catalog name) and an optional revision."""

    repo_id: str
    revision: str | None = None

    @property
    def is_bare(self) -> bool:
        """A name without an owner (`Llama-3.1-8B`): only the catalog answers those."""
        return "/" not in self.repo_id

    def __str__(self) -> str:
        return self.repo_id + (f"@{self.revision}" if self.revision else "")


def parse_model_ref(text: str, revision: str | None = None) -> ModelRef:
    """`org/name`, `org/name@rev`, a bare name, or a huggingface.co / hf.co model URL -> ModelRef.

    Everything the Hub would refuse is refused here, with one line, before any network call.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"no model given: {_EXAMPLE}")
    text = text.strip()
    shown = _shown(text)
    if len(text) > MAX_INPUT:
        raise InputError(f"{shown} is {len(text)} characters long, too long for a model ID or URL: {_EXAMPLE}")
    _refuse_odd_characters(text, shown)
    lowered = text.lower()
    if "://" in text or lowered.split("/", 1)[0] in HUB_HOSTS:
        repo_id, url_revision = _parse_url(text, shown)
    else:
        repo_id, _, at_revision = text.partition("@")
        if "@" in text and not at_revision:
            raise InputError(f"{shown} ends with '@' but names no revision: write org/name@main, a tag or a commit")
        url_revision = at_revision or None
        parts = repo_id.split("/")
        if len(parts) > 2:
            raise InputError(f"{shown} is neither an existing file nor a model ID (org/name): check the path, or {_EXAMPLE}")
    for part in repo_id.split("/"):
        _check_name_part(part, shown)
    if revision is not None and url_revision is not None and revision != url_revision:
        raise InputError(f"{shown} names revision {url_revision!r} but {revision!r} was also asked: give one revision")
    revision = revision if revision is not None else url_revision
    if revision is not None:
        _check_revision(revision, shown)
    return ModelRef(repo_id, revision)


def _shown(text: str) -> str:
    """The input as an error message may quote it: one line, not too long."""
    shown = repr(text)
    return shown if len(shown) <= 120 else shown[:100] + "...'"


def _refuse_odd_characters(text: str, shown: str) -> None:
    for char in text:
        if ord(char) < 32 or ord(char) == 127:
            raise InputError(f"{shown} contains a control character: {_EXAMPLE}")
        if char.isspace():
            raise InputError(f"{shown} contains a space: model IDs have none, {_EXAMPLE}")


def _parse_url(text: str, shown: str) -> tuple[str, str | None]:
    parsed = urlsplit(text if "://" in text else "https://" + text)
    host = (parsed.hostname or "").lower()
    if parsed.scheme not in ("http", "https") or host not in HUB_HOSTS or parsed.port not in (None, 80, 443):
        raise InputError(f"{shown} is not a Hugging Face model URL: give a huggingface.co or hf.co model URL, or a model ID like org/name")
    # NOTE: split before unquoting, so an encoded revision like refs%2Fpr%2F1 stays one segment.
    segments = [unquote(s) for s in parsed.path.split("/") if s]
    if segments[:2] == ["api", "models"]:
        segments = segments[2:]
    elif segments and segments[0] == "models" and len(segments) >= 3:
        segments = segments[1:]
    if segments and segments[0] in _NOT_MODELS:
        raise InputError(f"{shown} is {_NOT_MODELS[segments[0]]} URL, not a model: {_EXAMPLE}")
    if len(segments) < 2:
        raise InputError(f"{shown} does not name a model (huggingface.co/org/name): {_EXAMPLE}")
    revision = None
    rest = segments[2:]
    if len(rest) >= 2 and rest[0] in _REVISION_SEGMENTS:
        revision = rest[1]
    for segment in segments[:2]:
        _refuse_odd_characters(segment, shown)
    return f"{segments[0]}/{segments[1]}", revision


def _check_name_part(part: str, shown: str) -> None:
    if not part:
        raise InputError(f"{shown} has an empty owner or name: {_EXAMPLE}")
    if ".." in part or "--" in part:
        raise InputError(f"{shown} contains {'..' if '..' in part else '--'}, which model IDs cannot hold: {_EXAMPLE}")
    if len(part) > MAX_NAME_PART:
        raise InputError(f"{shown} has a part of {len(part)} characters, more than the Hub's {MAX_NAME_PART}: check the ID")
    if not _NAME_PART.fullmatch(part):
        raise InputError(f"{shown} is not a model ID: use letters, digits, '-', '_' and '.' (not first or last), like meta-llama/Llama-3.1-8B")


def _check_revision(revision: str, shown: str) -> None:
    if not revision or len(revision) > MAX_REVISION:
        raise InputError(f"{shown} has a revision of {len(revision)} characters: give a branch, tag or commit of at most {MAX_REVISION}")
    _refuse_odd_characters(revision, shown)
    if ".." in revision or revision.startswith("/") or revision.endswith("/") or not _REVISION.fullmatch(revision):
        raise InputError(f"{shown} has an invalid revision {revision!r}: give a branch (main), a tag or a commit hash")


# --- Reaching the Hub --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HubModel:
    """What the Hub says about one model at one revision."""

    repo_id: str  # as the Hub spells it
    revision: str | None  # as asked (None: the default branch)
    sha: str | None  # the commit the Hub answered from
    config: Mapping | None  # config.json
    safetensors: Mapping[str, int] | None = None  # parameters by dtype, as the Hub counts the checkpoint
    info_config: Mapping | None = field(default=None, repr=False)  # the Hub's digest of config.json

    @property
    def safetensors_total(self) -> int | None:
        return sum(self.safetensors.values()) if self.safetensors else None


def endpoint() -> str:
    """HF_ENDPOINT as it is now (huggingface_hub reads it once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_offline_reason() -> str | None:
    """Why the Hub must not be asked, from the environment (HF_HUB_OFFLINE=1), or None."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE"):
        return "HF_HUB_OFFLINE is set"
    return None


MAX_TOKEN = 512  # Hub tokens are about 37 characters; anything far longer is not one


def clean_token(token: str | None) -> str | None:
    """The token for this request, as given (blank means none). The library never reads HF_TOKEN or a
    saved login itself: only the CLI does, so a server never lends its own token to its users.

    NOTE: a bad token is refused without quoting it: error messages end up in logs.
    """
    if token is None:
        return None
    if not isinstance(token, str):
        raise InputError(f"the access token must be text, not {type(token).__name__}: paste a token from huggingface.co/settings/tokens")
    if len(token) > MAX_TOKEN:
        raise InputError(f"the access token is {len(token):,} characters long, more than {MAX_TOKEN}: paste a token from huggingface.co/settings/tokens")
    token = token.strip()
    if not token:
        return None
    if not all(33 <= ord(char) < 127 for char in token):
        raise InputError("the access token holds spaces, control or non-ASCII characters: paste a token from huggingface.co/settings/tokens")
    return token


def timeout_s() -> float:
    """Seconds one Hub request may take: HF_HUB_ETAG_TIMEOUT when set, else a short default."""
    try:
        return max(0.1, float(os.environ["HF_HUB_ETAG_TIMEOUT"]))
    except (KeyError, ValueError):
        return DEFAULT_TIMEOUT_S


class _Cache:
    """A small LRU of successful fetches with a time limit; failures are never kept."""

    def __init__(self, size: int = 128, ttl_s: float = 600.0) -> None:
        self.size, self.ttl_s = size, ttl_s
        self._items: OrderedDict[tuple, tuple[float, HubModel]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(ref: ModelRef, token: str | None, url: str) -> tuple:
        # NOTE: the token enters the key only as a hash, so a result fetched with one token is served
        # to that token alone, and no token sits in memory longer than its request.
        token_key = hashlib.sha256(token.encode()).hexdigest() if token else None
        return (url, ref.repo_id.lower(), ref.revision, token_key)

    def get(self, key: tuple) -> HubModel | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or time.monotonic() - item[0] > self.ttl_s:
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: tuple, model: HubModel) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), model)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


CACHE = _Cache()


def fetch(ref: ModelRef, *, token: str | None = None, timeout: float | None = None) -> HubModel:
    """Ask the Hub for a model's config.json and safetensors counts. Raises llmmem errors only.

    `token` is used as given (see clean_token); None means anonymous.
    """
    if ref.is_bare:
        raise InputError(f"{ref.repo_id!r} has no owner: give the full model ID (org/name) to ask the Hub")
    url = endpoint()
    key = CACHE.key(ref, token, url)
    cached = CACHE.get(key)
    if cached is not None:
        return cached
    model = _fetch_uncached(ref, token=token, timeout=timeout or timeout_s(), url=url)
    CACHE.put(key, model)
    return model


def _fetch_uncached(ref: ModelRef, *, token: str | None, timeout: float, url: str) -> HubModel:
    # NOTE: imported here so the CLI and the estimator never pay for huggingface_hub unless the Hub is asked.
    from huggingface_hub import HfApi

    # NOTE: token=False stops huggingface_hub from sending a token saved on disk: only this request's counts.
    api = HfApi(endpoint=url, token=False, library_name="llmmem")
    try:
        info = api.model_info(ref.repo_id, revision=ref.revision, timeout=timeout, expand=EXPAND, token=token or False)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one of llmmem's errors
        raise _translate(exc, ref, token, what="model info", timeout=timeout) from None
    safetensors = _safetensors_counts(info)
    repo_id = info.id if isinstance(getattr(info, "id", None), str) and "/" in info.id else ref.repo_id
    config = _download_config(ref, info.sha or ref.revision, token=token, timeout=timeout, url=url, safetensors=safetensors)
    info_config = info.config if isinstance(info.config, Mapping) else None
    return HubModel(repo_id, ref.revision, info.sha, config, safetensors, info_config)


def _safetensors_counts(info) -> dict[str, int] | None:
    counts = getattr(getattr(info, "safetensors", None), "parameters", None)
    if not isinstance(counts, Mapping) or not counts:
        return None
    if not all(isinstance(v, int) and v >= 0 for v in counts.values()):
        return None
    return {str(dtype): int(count) for dtype, count in counts.items()}


def _download_config(ref: ModelRef, revision: str | None, *, token: str | None, timeout: float, url: str,
                     safetensors: Mapping[str, int] | None) -> dict:
    """GET config.json once, with the Hub's own URL, headers and error classes.

    NOTE: not hf_hub_download: on a 429/5xx/timeout it retries with a 60 s timeout and backoff
    (file_download._ETAG_RETRY_TIMEOUT, http_backoff's 5 retries), which can hang the app for
    minutes, and it writes files (gated ones too) into a disk cache shared by every user of the machine.
    """
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    # NOTE: the URL hf_hub_url builds, written out: hf_hub_url starts from a template fixed when
    # huggingface_hub was imported, so it would miss an HF_ENDPOINT set later.
    file_url = f"{url}/{ref.repo_id}/resolve/{quote(revision or 'main', safe='')}/config.json"
    headers = build_hf_headers(token=token or False, library_name="llmmem")
    try:
        response = get_session().get(file_url, headers=headers, timeout=timeout)
        hf_raise_for_status(response)
    except Exception as exc:  # noqa: BLE001
        raise _translate(exc, ref, token, what="config.json", timeout=timeout, safetensors=safetensors) from None
    try:
        config = json.loads(response.text)
    except ValueError:
        raise ConfigError(f"config.json of {ref} on the Hub is not valid JSON: give a config.json file or a parameter count instead") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config.json of {ref} on the Hub is not a JSON object: give a config.json file or a parameter count instead")
    return config


def _translate(exc: Exception, ref: ModelRef, token: str | None, *, what: str, timeout: float,
               safetensors: Mapping[str, int] | None = None) -> Exception:
    """huggingface_hub / httpx failures -> one llmmem error whose message ends with the fix."""
    from huggingface_hub import errors as hf_errors

    page = f"{DEFAULT_ENDPOINT}/{ref.repo_id}"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, hf_errors.GatedRepoError) or (status in (401, 403) and not isinstance(exc, hf_errors.RepositoryNotFoundError)):
        size = ""
        if safetensors:
            size = f", or type its size ({sum(safetensors.values()) / 1e9:.2f}B parameters, from the Hub) for a weights-only estimate"
        if token:
            return GatedModelError(f"the Hub refused the token for {ref} (HTTP {status}): accept the licence on {page} with that token's account, or check the token{size}")
        return GatedModelError(f"{ref} is gated: accept the licence on the model page ({page}) and give an access token{size}")
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return ModelNotFoundError(f"{ref}: revision {ref.revision!r} not found: check the branch, tag or commit")
    if isinstance(exc, hf_errors.RemoteEntryNotFoundError):
        return ConfigError(f"{ref} has no config.json on the Hub (not a transformers model?): give a config.json file or a parameter count")
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        private = "" if token else " (a private model also needs a token)"
        return ModelNotFoundError(f"{ref} not found on the Hub: check the spelling{private}")
    if isinstance(exc, hf_errors.HfHubHTTPError) and status is not None:
        if status == 429:
            return HubUnavailableError(f"the Hub is rate-limiting requests (HTTP 429) for {ref}: wait a minute and try again")
        if status >= 500:
            return HubUnavailableError(f"the Hub answered HTTP {status} for {ref}: try again in a moment")
        return HubUnavailableError(f"the Hub answered HTTP {status} for the {what} of {ref}: try again, or give a config.json file")
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return HubUnavailableError(f"HF_HUB_OFFLINE is set, so the Hub was not asked about {ref}: unset it and try again")
    name = type(exc).__name__
    if "Timeout" in name:
        return HubUnavailableError(f"the Hub did not answer about {ref} within {timeout:g} s: try again")
    if isinstance(exc, (ValueError, TypeError, KeyError)):  # JSON that is not the Hub's model info
        return HubUnavailableError(f"the Hub sent an answer about {ref} that is not valid model info: try again")
    return HubUnavailableError(f"cannot reach the Hub at {endpoint()} ({name}): check the connection and try again")


# --- The Hub's facts -> a ModelSpec -------------------------------------------------------------------


def spec_from_hub(model: HubModel) -> tuple[ModelSpec, tuple[str, ...]]:
    """config.json gives the shape; the safetensors total gives the count unless the checkpoint is quantized."""
    if not model.config:
        raise ConfigError(f"{model.repo_id} has no config.json on the Hub: give a config.json file or a parameter count")
    try:
        spec = spec_from_config(model.config, name=model.repo_id)
    except ConfigError as exc:
        raise ConfigError(f"config.json of {model.repo_id} on the Hub: {exc}") from None
    notes: list[str] = []
    quantization = spec.quantization or _quantization_config(model)
    if quantization is not None and spec.quantization is None:
        spec = replace(spec, quantization=quantization)
    counts, total = model.safetensors, model.safetensors_total
    if not counts or not total:
        return spec, tuple(notes)
    by_dtype = ", ".join(f"{dtype} {count:,}" for dtype, count in sorted(counts.items()))
    low_bit = sorted(set(counts) & _QUANTIZED_DTYPES)
    if quantization is not None or low_bit:
        method = (quantization or {}).get("quant_method") or "/".join(low_bit)
        if total != spec.parameters:
            notes.append(f"quantized checkpoint ({method}): its safetensors hold {total:,} elements ({by_dtype}); packed low-bit "
                         f"tensors hold several parameters per element and scales add some, so the count is config.json's {spec.parameters:,}")
        else:
            notes.append(f"quantized checkpoint ({method}): safetensors by dtype: {by_dtype}")
        return spec, tuple(notes)
    difference = total - spec.parameters
    far = abs(difference) > 0.005 * spec.parameters
    if difference > 0:
        breakdown = dict(spec.breakdown)
        if breakdown:
            breakdown["other"] = breakdown.get("other", 0) + difference
        spec = replace(spec, parameters=total, breakdown=breakdown)
        if far:
            notes.append(f"the checkpoint holds {total:,} parameters, {difference:,} more than config.json's model "
                         f"({total - difference:,}; e.g. a vision tower or MTP layers): weights use the checkpoint's count")
    elif difference < 0:
        if spec.approximate:
            spec = replace(spec, parameters=total, breakdown={})
        if far or spec.approximate:
            notes.append(f"the checkpoint's safetensors hold {total:,} parameters, config.json's model {total - difference:,}: "
                         f"using the {'checkpoint' if spec.approximate else 'config'} count")
    return spec, tuple(notes)


def _quantization_config(model: HubModel) -> Mapping | None:
    for source in (model.config, model.info_config):
        if isinstance(source, Mapping):
            found = source.get("quantization_config")
            if not isinstance(found, Mapping) and isinstance(source.get("text_config"), Mapping):
                found = source["text_config"].get("quantization_config")
            if isinstance(found, Mapping):
                return found
    return None

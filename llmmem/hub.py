"""The Hugging Face Hub adapter: a model ID or URL -> config.json and safetensors counts, with clear errors.

Three parts, in order of cost:
- parse_model_ref: what the user typed -> ModelRef(repo_id, revision). Pure; refuses bad input before
  any network call and never imports huggingface_hub.
- fetch: ModelRef -> HubModel (the Hub's facts: config.json, safetensors counts by dtype, commit).
  huggingface_hub is imported here, only when the Hub is really asked. Every answer is bounded: model
  info and config.json are streamed with a size cap, one resolution has an overall deadline (connect and
  every read together, redirects included), and redirect loops are refused. Results live in a small
  in-memory cache bounded in entries and bytes, keyed on (repo, revision, sha256 of the token), so one
  user's token never serves another. Nothing is written to disk: no token, no gated file.
- spec_from_hub: HubModel -> (ModelSpec, notes). Pure: the config gives the shape, the safetensors
  total the parameter count, and the notes say where they disagree.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
import zlib
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Mapping
from urllib.parse import quote, unquote, urlsplit

from .architectures import spec_from_config
from .config_check import MAX_CONFIG_BYTES, QUANTIZATION
from .errors import ConfigError, GatedModelError, HubUnavailableError, InputError, LlmmemError, ModelNotFoundError
from .spec import ModelSpec

DEFAULT_ENDPOINT = "https://huggingface.co"
HUB_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co", "www.hf.co"})
DEFAULT_TIMEOUT_S = 5.0  # each step of a request: connect, each read
DEADLINE_S = 15.0  # one whole resolution: model info and config.json, redirects included
MAX_REDIRECTS = 5
# NOTE: model info is asked only for safetensors counts, the config digest, gated and sha: a few KB.
MAX_INFO_BYTES = 1024 * 1024
MAX_CACHE_BYTES = 16 * 1024 * 1024
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
    shown = quoted(text)
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


def quoted(text: str, most: int = 120, keep: int = 100) -> str:
    """The input as an error message may quote it: one line, at most `most` characters."""
    quoted = repr(text)
    return quoted if len(quoted) <= most else quoted[:keep] + "...'"


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
    """Seconds one Hub request may wait for each step: HF_HUB_ETAG_TIMEOUT when set, else a short default."""
    try:
        value = float(os.environ["HF_HUB_ETAG_TIMEOUT"])
    except (KeyError, ValueError):
        return DEFAULT_TIMEOUT_S
    return min(max(0.1, value), DEADLINE_S) if math.isfinite(value) else DEFAULT_TIMEOUT_S


class _Cache:
    """A small LRU of successful fetches, bounded in entries, in bytes and in time; failures are never kept.

    NOTE: an entry's size is the JSON it was decoded from (model info + config.json, each capped on the
    way in), so the whole cache holds at most `max_bytes` of Hub answers however large repos make them.
    """

    def __init__(self, size: int = 128, ttl_s: float = 600.0, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self.size, self.ttl_s, self.max_bytes = size, ttl_s, max_bytes
        self._items: OrderedDict[tuple, tuple[float, HubModel, int]] = OrderedDict()
        self._bytes = 0
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
                self._drop(key)
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: tuple, model: HubModel, size: int = 0) -> None:
        if size > self.max_bytes // 8:  # one answer may not crowd out the rest
            return
        with self._lock:
            self._drop(key)
            self._items[key] = (time.monotonic(), model, size)
            self._bytes += size
            while len(self._items) > self.size or self._bytes > self.max_bytes:
                _, (_, _, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def _drop(self, key: tuple) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self._bytes -= item[2]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


CACHE = _Cache()


def fetch(ref: ModelRef, *, token: str | None = None, timeout: float | None = None, deadline_s: float | None = None) -> HubModel:
    """Ask the Hub for a model's config.json and safetensors counts. Raises llmmem errors only.

    `token` is used as given (see clean_token); None means anonymous. `timeout` bounds each step (connect,
    each read); `deadline_s` (default DEADLINE_S) bounds the whole resolution, every request and redirect
    together, so a server that trickles bytes cannot hold the caller longer.
    """
    if ref.is_bare:
        raise InputError(f"{ref.repo_id!r} has no owner: give the full model ID (org/name) to ask the Hub")
    url = endpoint()
    key = CACHE.key(ref, token, url)
    cached = CACHE.get(key)
    if cached is not None:
        return cached
    budget = deadline_s if deadline_s is not None else DEADLINE_S
    call = _Call(ref, token, min(timeout or timeout_s(), budget), time.monotonic() + budget, budget)
    model, size = _fetch_uncached(call, url=url)
    CACHE.put(key, model, size)
    return model


@dataclass(frozen=True)
class _Call:
    """One resolution's bounds: each step waits at most `timeout`; everything ends by `deadline`."""

    ref: ModelRef
    token: str | None
    timeout: float
    deadline: float  # time.monotonic() value
    budget: float  # seconds, as configured (for messages)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def too_slow(self) -> HubUnavailableError:
        return HubUnavailableError(f"the Hub did not finish answering about {self.ref} within {self.budget:g} s: try again")


def _fetch_uncached(call: _Call, *, url: str) -> tuple[HubModel, int]:
    # NOTE: imported here so the CLI and the estimator never pay for huggingface_hub unless the Hub is asked.
    from huggingface_hub.hf_api import ModelInfo

    ref = call.ref
    # NOTE: the same request HfApi.model_info sends, through the bounded getter below (HfApi reads the
    # whole answer, with a timeout per read only).
    path = f"{url}/api/models/{ref.repo_id}" + (f"/revision/{quote(ref.revision, safe='')}" if ref.revision else "")
    body = _get(call, path, params={"expand": EXPAND}, limit=MAX_INFO_BYTES, what="model info")
    try:
        data = json.loads(body)
        info = ModelInfo(**data)
    except RecursionError:
        raise HubUnavailableError(f"the Hub sent an answer about {ref} that is not valid model info: try again") from None
    except Exception as exc:  # noqa: BLE001 - JSON that is not the Hub's model info
        raise _translate(exc, call, what="model info") from None
    safetensors = _safetensors_counts(info)
    repo_id = info.id if isinstance(getattr(info, "id", None), str) and "/" in info.id and len(info.id) < 200 else ref.repo_id
    sha = info.sha if isinstance(info.sha, str) and len(info.sha) <= MAX_REVISION else None
    config, config_size = _download_config(call, sha or ref.revision, url=url, safetensors=safetensors)
    info_config = info.config if isinstance(info.config, Mapping) else None
    return HubModel(repo_id, ref.revision, sha, config, safetensors, info_config), len(body) + config_size


def _download_config(call: _Call, revision: str | None, *, url: str, safetensors: Mapping[str, int] | None) -> tuple[dict, int]:
    """GET config.json once, with the Hub's own URL, headers and error classes, capped and in time.

    NOTE: not hf_hub_download: on a 429/5xx/timeout it retries with a 60 s timeout and backoff
    (file_download._ETAG_RETRY_TIMEOUT, http_backoff's 5 retries), which can hang the app for
    minutes, and it writes files (gated ones too) into a disk cache shared by every user of the machine.
    """
    ref = call.ref
    # NOTE: the URL hf_hub_url builds, written out: hf_hub_url starts from a template fixed when
    # huggingface_hub was imported, so it would miss an HF_ENDPOINT set later.
    file_url = f"{url}/{ref.repo_id}/resolve/{quote(revision or 'main', safe='')}/config.json"
    body = _get(call, file_url, limit=MAX_CONFIG_BYTES, what="config.json", safetensors=safetensors)
    try:
        config = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        raise ConfigError(f"config.json of {ref} on the Hub is not valid JSON: give {_alternative()} instead") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config.json of {ref} on the Hub is not a JSON object: give {_alternative()} instead")
    return config, len(body)


# NOTE: a server (allow_local_files=False) must not advise its visitors to give a local file.
_OFFER_FILES: ContextVar[bool] = ContextVar("llmmem_offer_files", default=True)


@contextmanager
def local_files_offered(allowed: bool):
    """Within this block, error messages suggest a config.json file only when `allowed`."""
    marker = _OFFER_FILES.set(allowed)
    try:
        yield
    finally:
        _OFFER_FILES.reset(marker)


def _alternative() -> str:
    return "a config.json file or a parameter count" if _OFFER_FILES.get() else "a parameter count like 70B"


# --- One bounded GET ------------------------------------------------------------------------------------

_DEADLINE: ContextVar[float | None] = ContextVar("llmmem_hub_deadline", default=None)
_CLIENT = None
_CLIENT_LOCK = threading.Lock()
_ERROR_BODY_LIMIT = 64 * 1024


def _get(call: _Call, url: str, *, limit: int, what: str, params: Mapping | None = None,
         safetensors: Mapping[str, int] | None = None) -> bytes:
    """The body of one GET, following at most MAX_REDIRECTS redirects, never more than `limit` bytes,
    and all of it before the call's deadline. Hub errors become llmmem errors."""
    import httpx2
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    client = _client()
    headers = build_hf_headers(token=call.token or False, library_name="llmmem")
    headers["Accept-Encoding"] = "gzip, identity"  # NOTE: no brotli/zstd: gzip is decoded below with a cap
    visited: list[str] = []
    marker = _DEADLINE.set(call.deadline)
    try:
        request = client.build_request("GET", url, headers=headers, params=params)
        while True:
            if call.remaining() <= 0:
                raise call.too_slow()
            request.extensions["timeout"] = httpx2.Timeout(min(call.timeout, call.remaining())).as_dict()
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect and response.next_request is not None:
                    visited.append(str(request.url))
                    request = response.next_request
                    if str(request.url) in visited:
                        raise HubUnavailableError(f"the Hub's answer for the {what} of {call.ref} redirects in a loop: "
                                                  f"try again later, or give {_alternative()}")
                    if len(visited) > MAX_REDIRECTS:
                        raise HubUnavailableError(f"the Hub's answer for the {what} of {call.ref} redirected more than "
                                                  f"{MAX_REDIRECTS} times: try again later, or give {_alternative()}")
                    continue
                failed = response.status_code >= 400
                body = _read_body(response, _ERROR_BODY_LIMIT if failed else limit, call, what)
            finally:
                response.close()
            if failed:
                plain = {k: v for k, v in response.headers.items() if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")}
                hf_raise_for_status(httpx2.Response(response.status_code, headers=plain, content=body, request=request))
            return body
    except LlmmemError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes one of llmmem's errors
        if call.remaining() <= 0 and "Timeout" in type(exc).__name__:
            raise call.too_slow() from None
        raise _translate(exc, call, what=what, safetensors=safetensors) from None
    finally:
        _DEADLINE.reset(marker)


def _read_body(response, limit: int, call: _Call, what: str) -> bytes:
    """At most `limit` bytes of body (gzip decoded here, with the same cap), before the deadline."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip"):
        raise HubUnavailableError(f"the Hub sent the {what} of {call.ref} in an encoding llmmem does not read ({encoding[:20]}): try again")
    declared = response.headers.get("content-length", "")
    too_big = ConfigError(f"the {what} of {call.ref} on the Hub is more than {limit:,} bytes, larger than any real one: "
                          f"give {_alternative()} instead")
    if encoding != "gzip" and declared.isdigit() and int(declared) > limit:
        raise too_big
    inflate = zlib.decompressobj(wbits=31) if encoding == "gzip" else None
    chunks, size = [], 0
    for raw in response.iter_raw(chunk_size=64 * 1024):
        if call.remaining() <= 0:
            raise call.too_slow()
        chunk = inflate.decompress(raw, limit + 1 - size) if inflate else raw
        if inflate is not None and inflate.unconsumed_tail:
            raise too_big
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise too_big
    return b"".join(chunks)


def _client():
    """This module's own HTTP client (huggingface_hub's client class), whose every connect, read and write
    waits no longer than the current call's deadline."""
    global _CLIENT
    with _CLIENT_LOCK:
        if _CLIENT is None:
            import httpx2

            transport = httpx2.HTTPTransport()
            # NOTE: httpx has no overall deadline, only per-step timeouts: a server sending one byte every
            # second never trips them. The pool's network backend is wrapped so that each step's timeout
            # is cut to what is left of the call's deadline (the body loop in _read_body checks it too).
            pool = getattr(transport, "_pool", None)
            if pool is not None and hasattr(pool, "_network_backend"):
                pool._network_backend = _deadline_backend(pool._network_backend)
            _CLIENT = httpx2.Client(transport=transport, follow_redirects=False, timeout=None)
        return _CLIENT


def _clamp(timeout: float | None, error) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("the call's deadline has passed")
    return remaining if timeout is None else min(timeout, remaining)


def _deadline_backend(inner):
    import httpcore2

    class DeadlineStream(httpcore2.NetworkStream):
        def __init__(self, stream) -> None:
            self._stream = stream

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._stream.read(max_bytes, _clamp(timeout, httpcore2.ReadTimeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._stream.write(buffer, _clamp(timeout, httpcore2.WriteTimeout))

        def close(self) -> None:
            self._stream.close()

        def start_tls(self, ssl_context, server_hostname=None, timeout=None):
            return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore2.ConnectTimeout)))

        def get_extra_info(self, info: str):
            return self._stream.get_extra_info(info)

    class DeadlineBackend(httpcore2.NetworkBackend):
        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            return DeadlineStream(inner.connect_tcp(host, port, _clamp(timeout, httpcore2.ConnectTimeout), local_address, socket_options))

        def connect_unix_socket(self, path, timeout=None, socket_options=None):
            return DeadlineStream(inner.connect_unix_socket(path, _clamp(timeout, httpcore2.ConnectTimeout), socket_options))

        def sleep(self, seconds: float) -> None:
            inner.sleep(seconds)

    return DeadlineBackend()


def _safetensors_counts(info) -> dict[str, int] | None:
    counts = getattr(getattr(info, "safetensors", None), "parameters", None)
    if not isinstance(counts, Mapping) or not counts:
        return None
    # NOTE: the Hub computes these, but they are read as untrusted all the same: a few dtypes, each a
    # plain int of at most 10^15 parameters; anything else is ignored (config.json still gives the count).
    if len(counts) > 32 or not all(isinstance(k, str) and len(k) <= 32 for k in counts):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10**15 for v in counts.values()):
        return None
    return {dtype: int(count) for dtype, count in counts.items()}


def _translate(exc: Exception, call: _Call, *, what: str, safetensors: Mapping[str, int] | None = None) -> Exception:
    """huggingface_hub / httpx failures -> one llmmem error whose message ends with the fix."""
    from huggingface_hub import errors as hf_errors

    if isinstance(exc, LlmmemError):
        return exc
    ref, token, timeout = call.ref, call.token, call.timeout
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
        return ConfigError(f"{ref} has no config.json on the Hub (not a transformers model?): give {_alternative()}")
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        private = "" if token else " (a private model also needs a token)"
        return ModelNotFoundError(f"{ref} not found on the Hub: check the spelling{private}")
    if isinstance(exc, hf_errors.HfHubHTTPError) and status is not None:
        if status == 429:
            return HubUnavailableError(f"the Hub is rate-limiting requests (HTTP 429) for {ref}: wait a minute and try again")
        if status >= 500:
            return HubUnavailableError(f"the Hub answered HTTP {status} for {ref}: try again in a moment")
        return HubUnavailableError(f"the Hub answered HTTP {status} for the {what} of {ref}: try again, or give {_alternative()}")
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return HubUnavailableError(f"HF_HUB_OFFLINE is set, so the Hub was not asked about {ref}: unset it and try again")
    name = type(exc).__name__
    if name == "TooManyRedirects":
        return HubUnavailableError(f"the Hub's answer for the {what} of {ref} redirected too many times: try again later")
    if "Timeout" in name:
        return HubUnavailableError(f"the Hub did not answer about {ref} within {timeout:g} s: try again")
    if isinstance(exc, (ValueError, TypeError, KeyError)):  # JSON that is not the Hub's model info
        return HubUnavailableError(f"the Hub sent an answer about {ref} that is not valid model info: try again")
    return HubUnavailableError(f"cannot reach the Hub at {endpoint()} ({name}): check the connection and try again")


# --- The Hub's facts -> a ModelSpec -------------------------------------------------------------------


def spec_from_hub(model: HubModel) -> tuple[ModelSpec, tuple[str, ...]]:
    """config.json gives the shape; the safetensors total gives the count unless the checkpoint is quantized."""
    if not model.config:
        raise ConfigError(f"{model.repo_id} has no config.json on the Hub: give {_alternative()}")
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
    if difference > 0 and spec.mtp_layers and (not spec.mtp_parameters or abs(difference - spec.mtp_parameters) <= 0.005 * spec.parameters):
        # NOTE: the extra tensors are the multi-token-prediction layers: transformers does not build them and
        # vLLM loads them only for speculative decoding, so the model's count stays config.json's.
        notes.append(f"the checkpoint's {total:,} parameters include {spec.mtp_layers} multi-token-prediction layer(s) "
                     f"({difference:,}) that transformers does not build and vLLM loads only for speculative decoding: "
                     f"the count is config.json's model ({spec.parameters:,})")
        return spec, tuple(notes)
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
            # NOTE: the model info's digest is not checked by spec_from_config: check its shape here.
            if isinstance(found, Mapping) and QUANTIZATION.problem(found, "quantization_config") is None:
                return found
    return None

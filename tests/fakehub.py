"""A small fake of the Hugging Face Hub on 127.0.0.1, for tests: the routes huggingface_hub calls, and every fault.

Routes (as huggingface_hub 1.x/2.x requests them; see HfApi.model_info and file_download.get_hf_file_metadata):
  GET  /api/models/{org}/{name}[/revision/{rev}]?expand=...   model info (only the expanded fields, like the Hub)
  HEAD /{org}/{name}/resolve/{rev}/{file}                      ETag, X-Repo-Commit, Content-Length
  GET  /{org}/{name}/resolve/{rev}/{file}                      the file
Errors carry the Hub's X-Error-Code / X-Error-Message headers, which huggingface_hub turns into
RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError, RemoteEntryNotFoundError.

How the real Hub answers, and so the fake:
- a gated repo's model info (with safetensors counts) is public; its files answer 401 GatedRepo without a
  token, 403 GatedRepo with a token whose account has not accepted the licence, 200 with one that has;
- a missing (or private) repo answers 401 RepoNotFound without a token, 404 RepoNotFound with one;
- a token the Hub does not know answers 401 "Invalid credentials in Authorization header".
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

# Faults a repo can play, on the model-info route ("api-...") or on config.json ("config-...").
FAULTS = (
    "api-401",  # 401 RepoNotFound: private, or missing
    "api-403",  # 403 GatedRepo on the model info itself
    "api-404",  # 404 RepoNotFound
    "api-429",  # rate limited
    "api-500",  # server error
    "api-503",
    "api-hang",  # answers only after the client gave up
    "api-bad-json",  # 200 with a body that is not JSON
    "config-404",  # the repo has no config.json (EntryNotFound)
    "config-500",
    "config-hang",
    "config-bad-json",
    # hostile modes: a server (or a repo) that tries to hold or exhaust the client
    "api-trickle",  # 200, then the body one byte every `trickle_s` (each read is quick; the whole never ends in time)
    "config-trickle",
    "config-trickle-headers",  # the status line and headers themselves, one byte every `trickle_s`
    "api-huge",  # a model info of `huge_bytes`, streamed
    "config-huge",  # a config.json of `huge_bytes` with its Content-Length
    "config-huge-unsized",  # the same with no Content-Length (the body ends when the server closes)
    "config-gzip-bomb",  # `huge_bytes` of JSON whitespace, gzip-compressed (about 1000:1)
    "api-redirect-loop",  # 302 back and forth between two URLs
    "config-redirect-loop",
    "config-redirect-many",  # 302 to a new URL each time, without end
)

# Absurd values a hostile config.json may hold, each with the field it sits in (see absurd_config).
ABSURD_VALUES = [
    ("hidden_size", 10**200),
    ("num_hidden_layers", 10**9),
    ("num_experts_per_tok", "x" * 100),
    ("intermediate_size", 1.5),
    ("num_attention_heads", -32),
    ("num_key_value_heads", 0),
    ("tie_word_embeddings", "no"),
    ("vocab_size", float("nan")),
    ("max_position_embeddings", float("inf")),
    ("head_dim", True),
    ("layer_types", "full_attention"),
    ("layer_types", [1, 2, 3]),
    ("quantization_config", ["fp8"]),
    ("quantization_config", {"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": "int4"}}}),
    ("quantization_config", {"quant_method": "fp8", "weight_block_size": "128x128"}),
    ("moe_layers", {"0": True}),
    ("mlp_only_layers", "all"),
    ("sliding_window", "4096"),
    ("use_sliding_window", 1),
    ("text_config", "llama"),
    ("text_config", {"hidden_size": -1}),
    ("architectures", "LlamaForCausalLM"),
    ("model_type", {"llama": 1}),
    ("rope_theta_nest", [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
]


def absurd_config(base: dict, field: str, value) -> dict:
    """A copy of `base` with one absurd value (the nesting case replaces nothing, it adds a key)."""
    return {**base, field: value}


@dataclass
class FakeRepo:
    repo_id: str
    config: dict | None
    safetensors: dict[str, int] | None = None
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    revisions: dict[str, str] = field(default_factory=dict)  # branch/tag -> commit
    gated: bool = False
    allowed_tokens: frozenset[str] = frozenset()  # tokens whose account accepted the licence
    fault: str | None = None
    raw_config: bytes | None = None  # overrides config (for malformed JSON)

    def config_bytes(self) -> bytes:
        if self.raw_config is not None:
            return self.raw_config
        return json.dumps(self.config, indent=2).encode()


class FakeHub:
    """Start with `with FakeHub() as hub:`; `hub.url` is the endpoint, `hub.requests` what was asked."""

    def __init__(self, hang_s: float = 10.0, trickle_s: float = 0.2, huge_bytes: int = 100 * 1024 * 1024) -> None:
        self.trickle_s = trickle_s
        self.huge_bytes = huge_bytes
        self.sent_bytes = 0  # body bytes of hostile answers the client really took
        self.repos: dict[str, FakeRepo] = {}
        self.known_tokens: set[str] = set()
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, token or None)
        self.hang_s = hang_s
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- set-up ---
    def add(self, repo_id: str, config: dict | None, **kwargs) -> FakeRepo:
        repo = FakeRepo(repo_id, config, **kwargs)
        self.repos[repo_id.lower()] = repo
        self.known_tokens |= set(repo.allowed_tokens)
        return repo

    def count(self, repo_id: str, route: str = "") -> int:
        """How many requests named this repo (and contained `route`, e.g. 'config.json' or '/api/')."""
        return sum(1 for _, path, _ in self.requests if repo_id.lower() in path.lower() and route in path)

    # --- life ---
    def __enter__(self) -> "FakeHub":
        handler = type("Handler", (_Handler,), {"hub": self})
        # NOTE: a listen backlog of 128, not socketserver's 5: concurrent tests must not wait on SYN retries
        server = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 128})
        self._server = server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()  # hanging handlers return at once
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    # --- routing ---
    def _route(self, method: str) -> None:
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or None
        parts = urlsplit(self.path)
        self.hub.requests.append((method, unquote(parts.path), token))
        if token is not None and token not in self.hub.known_tokens:
            return self._error(401, message="Invalid credentials in Authorization header")
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if segments[:2] == ["api", "models"] and len(segments) >= 4 and method == "GET":
            revision = segments[5] if len(segments) >= 6 and segments[4] == "revision" else None
            return self._model_info("/".join(segments[2:4]), revision, parse_qs(parts.query), token)
        if len(segments) >= 5 and segments[2] == "resolve":
            return self._resolve(method, "/".join(segments[:2]), segments[3], "/".join(segments[4:]), token)
        return self._error(404, message="Not Found")

    def _repo(self, repo_id: str, token: str | None) -> FakeRepo | None:
        repo = self.hub.repos.get(repo_id.lower())
        if repo is None:
            # NOTE: like the Hub, a missing repo answers 401 to anonymous requests and 404 to authenticated ones.
            self._error(404 if token else 401, code="RepoNotFound", message="Repository not found")
        return repo

    def _commit(self, repo: FakeRepo, revision: str | None) -> str | None:
        if revision in (None, "main") or revision == repo.sha:
            return repo.sha
        if revision in repo.revisions:
            return repo.revisions[revision]
        if revision in repo.revisions.values():
            return revision
        self._error(404, code="RevisionNotFound", message=f"Invalid rev id: {revision}")
        return None

    def _model_info(self, repo_id: str, revision: str | None, query: dict, token: str | None) -> None:
        repo = self._repo(repo_id, token)
        if repo is None:
            return
        fault = repo.fault or ""
        if fault == "api-hang":
            self.hub._release.wait(self.hub.hang_s)
        elif fault == "api-401":
            return self._error(401, code="RepoNotFound", message="Repository not found")
        elif fault == "api-403":
            return self._error(403, code="GatedRepo", message="Access to this model is restricted")
        elif fault == "api-404":
            return self._error(404, code="RepoNotFound", message="Repository not found")
        elif fault.startswith("api-") and fault[4:].isdigit():
            return self._error(int(fault[4:]), message="Internal Error")
        elif fault == "api-bad-json":
            return self._send(200, b'{"id": "' + repo.repo_id.encode() + b'", "safetensors": {', "application/json")
        elif fault in ("api-redirect-loop",):
            return self._redirect(fault)
        elif fault == "api-huge":
            return self._stream_huge(sized=True)
        commit = self._commit(repo, revision)
        if commit is None:
            return
        data = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "sha": commit,
            "gated": "manual" if repo.gated else False,
            "config": _config_digest(repo.config),
        }
        if repo.safetensors is not None:
            data["safetensors"] = {"parameters": dict(repo.safetensors), "total": sum(repo.safetensors.values())}
        expand = query.get("expand") or query.get("expand[]")
        if expand:  # like the Hub: only what was asked, plus the ids
            data = {key: value for key, value in data.items() if key in ("_id", "id") or key in expand}
        if fault == "api-trickle":
            return self._trickle(json.dumps(data).encode())
        self._send(200, json.dumps(data).encode(), "application/json")

    def _resolve(self, method: str, repo_id: str, revision: str, filename: str, token: str | None) -> None:
        repo = self._repo(repo_id, token)
        if repo is None:
            return
        if repo.gated and token not in repo.allowed_tokens:
            status = 403 if token else 401
            return self._error(status, code="GatedRepo", message=f"Access to model {repo.repo_id} is restricted")
        commit = self._commit(repo, revision)
        if commit is None:
            return
        fault = repo.fault or ""
        if fault == "config-hang":
            self.hub._release.wait(self.hub.hang_s)
        elif fault == "config-500":
            return self._error(500, message="Internal Error")
        if filename != "config.json" or repo.config is None and repo.raw_config is None or fault == "config-404":
            return self._error(404, code="EntryNotFound", message="Entry not found", commit=commit)
        if fault in ("config-redirect-loop", "config-redirect-many"):
            return self._redirect(fault)
        if fault in ("config-huge", "config-huge-unsized"):
            return self._stream_huge(sized=fault == "config-huge")
        if fault == "config-gzip-bomb":
            return self._gzip_bomb()
        if fault in ("config-trickle", "config-trickle-headers"):
            return self._trickle(repo.config_bytes(), headers_too=fault == "config-trickle-headers")
        body = repo.config_bytes() if fault != "config-bad-json" else b"{ not json"
        etag = hashlib.sha1(body).hexdigest()
        self._send(200, body, "application/json", head=method == "HEAD",
                   extra={"ETag": f'"{etag}"', "X-Repo-Commit": commit})

    # --- hostile answers ---
    def _redirect(self, fault: str) -> None:
        parts = urlsplit(self.path)
        hop = int(parse_qs(parts.query).get("hop", ["0"])[0])
        if fault.endswith("loop"):
            target = parts.path if hop else parts.path + "?hop=1"  # A -> B -> A -> ...
        else:
            target = f"{parts.path}?hop={hop + 1}"  # A -> B -> C -> ... without end
        self._send(302, b"", "text/plain", extra={"Location": target})

    def _trickle(self, body: bytes, *, headers_too: bool = False) -> None:
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        if not headers_too:
            self.wfile.write(head)
            head = b""
        try:
            for byte in head + body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                self.hub.sent_bytes += 1
                if self.hub._release.wait(self.hub.trickle_s):
                    return
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _stream_huge(self, *, sized: bool) -> None:
        """`huge_bytes` of a JSON string, written in 64 KB pieces for as long as the client reads."""
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if sized:
                self.send_header("Content-Length", str(self.hub.huge_bytes))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            piece = b" " * 65536
            written = 0
            while written < self.hub.huge_bytes and not self.hub._release.is_set():
                self.wfile.write(piece)
                written += len(piece)
                self.hub.sent_bytes += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _gzip_bomb(self) -> None:
        body = _gzip_of_spaces(self.hub.huge_bytes)
        self._send(200, body, "application/json", extra={"Content-Encoding": "gzip"})
        self.hub.sent_bytes += len(body)

    # --- answers ---
    def _error(self, status: int, *, code: str | None = None, message: str = "", commit: str | None = None) -> None:
        extra = {"X-Error-Message": message}
        if code:
            extra["X-Error-Code"] = code
        if commit:
            extra["X-Repo-Commit"] = commit
        self._send(status, json.dumps({"error": message}).encode(), "application/json", extra=extra)

    def _send(self, status: int, body: bytes, content_type: str, *, head: bool = False, extra: dict | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a hang test): nothing to answer


_BOMBS: dict[int, bytes] = {}


def _gzip_of_spaces(size: int) -> bytes:
    if size not in _BOMBS:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        piece = b" " * (1 << 20)
        _BOMBS[size] = b"".join([*(packer.compress(piece) for _ in range(size >> 20)), packer.flush()])
    return _BOMBS[size]


def _config_digest(config: dict | None) -> dict | None:
    """What the Hub's model info puts under "config": a few keys of config.json, not the whole file."""
    if not isinstance(config, dict):
        return None
    keys = ("architectures", "model_type", "quantization_config")
    return {key: config[key] for key in keys if key in config}


def loopback_only(monkeypatch) -> None:
    """Make any connection to a host other than this machine fail at once (no test reaches the internet)."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
            raise ConnectionRefusedError(f"tests may not connect to {host}")
        return real_connect(sock, address)

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host not in (None, "127.0.0.1", "::1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, f"tests may not look up {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@contextmanager
def fake_hub_session(monkeypatch, home) -> Iterator[FakeHub]:
    """A running FakeHub that huggingface_hub and llmmem.hub talk to, and nothing else reachable.

    HF_ENDPOINT and huggingface_hub's constants point at it (huggingface_hub read HF_ENDPOINT at
    import, so the constants are patched too and nothing can fall back to huggingface.co), HF_HOME
    is `home`, requests time out after 1 s per step and 3 s in all, and no token comes from the environment.
    """
    import huggingface_hub.constants

    from llmmem import hub

    loopback_only(monkeypatch)
    with FakeHub(hang_s=5) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", fake.url)
        monkeypatch.setattr(huggingface_hub.constants, "HUGGINGFACE_CO_URL_TEMPLATE", fake.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_HOME", str(home))
        monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "1")
        monkeypatch.setattr(hub, "DEADLINE_S", 3.0)  # each step 1 s, the whole resolution 3 s
        monkeypatch.delenv("HF_TOKEN", raising=False)
        hub.CACHE.clear()
        try:
            yield fake
        finally:
            hub.CACHE.clear()

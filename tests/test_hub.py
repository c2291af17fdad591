"""The Hub adapter against a fake Hub on 127.0.0.1: real huggingface_hub calls, every fault, no internet."""

from __future__ import annotations

import json
import logging
import os
import time

import pytest

from llmmem import catalog, hub
from llmmem.cli import main
from llmmem.errors import ConfigError, GatedModelError, HubUnavailableError, ModelNotFoundError
from llmmem.resolve import resolve

from fakehub import fake_hub_session

LLAMA_8B = 8_030_261_248  # transformers' count for meta-llama/Llama-3.1-8B (tests/fixtures/param_counts.tsv)
LLAMA_CONFIG = catalog.load_config(catalog.find("meta-llama/Llama-3.1-8B"))
COMMIT_V1 = "1111111111111111111111111111111111111111"
TOKEN_OK = "hf_goodTokenOfUserA"
TOKEN_OTHER = "hf_tokenOfUserB"


@pytest.fixture
def fake(monkeypatch, tmp_path):
    with fake_hub_session(monkeypatch, tmp_path / "hf_home") as fake_hub:
        fake_hub.add("acme/Llama-8B-Copy", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B}, revisions={"v1": COMMIT_V1})
        fake_hub.add("acme/Gated-8B", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B}, gated=True, allowed_tokens=frozenset({TOKEN_OK}))
        fake_hub.known_tokens.add(TOKEN_OTHER)
        yield fake_hub


# --- Answers ---------------------------------------------------------------------------------------


def test_public_model_resolves_from_the_hub(fake):
    resolved = resolve("acme/Llama-8B-Copy")
    assert resolved.source == "hub"
    assert resolved.spec.name == "acme/Llama-8B-Copy"
    assert resolved.spec.parameters == LLAMA_8B
    assert resolved.spec.num_layers == 32 and resolved.spec.hidden_size == 4096
    assert resolved.revision == "0123456789abcdef0123456789abcdef01234567"
    assert resolved.safetensors == {"BF16": LLAMA_8B}
    assert resolved.notes == ()
    # config.json is read at the commit the model info named, so both facts come from one commit
    assert ("GET", "/acme/Llama-8B-Copy/resolve/0123456789abcdef0123456789abcdef01234567/config.json", None) in fake.requests


def test_second_resolve_comes_from_the_memory_cache(fake):
    resolve("acme/Llama-8B-Copy")
    asked = len(fake.requests)
    again = resolve("ACME/llama-8b-copy")  # the same repo, any case
    assert len(fake.requests) == asked
    assert again.spec.parameters == LLAMA_8B


@pytest.mark.parametrize("text", [
    "acme/Llama-8B-Copy@v1",
    "https://huggingface.co/acme/Llama-8B-Copy/tree/v1",
    "https://hf.co/acme/Llama-8B-Copy/blob/v1/config.json",
    "huggingface.co/acme/Llama-8B-Copy/resolve/v1/model.safetensors?download=true",
])
def test_a_revision_reaches_the_hub(fake, text):
    resolved = resolve(text)
    assert resolved.revision == COMMIT_V1
    assert resolved.spec.parameters == LLAMA_8B
    assert ("GET", "/api/models/acme/Llama-8B-Copy/revision/v1", None) in fake.requests
    assert ("GET", f"/acme/Llama-8B-Copy/resolve/{COMMIT_V1}/config.json", None) in fake.requests


def test_revision_keyword_and_cache_per_revision(fake):
    main = resolve("acme/Llama-8B-Copy")
    v1 = resolve("acme/Llama-8B-Copy", revision="v1")
    assert (main.revision, v1.revision) == ("0123456789abcdef0123456789abcdef01234567", COMMIT_V1)
    assert fake.count("acme/Llama-8B-Copy", "/api/") == 2


def test_unknown_revision_says_so(fake):
    with pytest.raises(ModelNotFoundError, match=r"revision 'nope' not found: check the branch, tag or commit$"):
        resolve("acme/Llama-8B-Copy@nope")


# --- Gated models and tokens ------------------------------------------------------------------------


def test_gated_without_token_names_the_fix(fake):
    with pytest.raises(GatedModelError) as error:
        resolve("acme/Gated-8B")
    message = str(error.value)
    assert message.startswith("acme/Gated-8B is gated: accept the licence on the model page (https://huggingface.co/acme/Gated-8B) and give an access token")
    assert "8.03B parameters" in message  # the model info is public: its size is offered as a way on
    assert "\n" not in message
    assert len(hub.CACHE) == 0


def test_gated_with_the_right_token(fake):
    resolved = resolve("acme/Gated-8B", token=TOKEN_OK)
    assert resolved.source == "hub" and resolved.spec.parameters == LLAMA_8B
    assert ("GET", "/acme/Gated-8B/resolve/0123456789abcdef0123456789abcdef01234567/config.json", TOKEN_OK) in fake.requests


def test_gated_results_never_leak_across_tokens(fake):
    assert resolve("acme/Gated-8B", token=TOKEN_OK).source == "hub"
    asked = fake.count("acme/Gated-8B", "config.json")
    # no token: the cache must not answer; the Hub is asked again and refuses
    with pytest.raises(GatedModelError, match="is gated: accept the licence"):
        resolve("acme/Gated-8B")
    # another user's token: asked again, refused with 403
    with pytest.raises(GatedModelError, match=r"the Hub refused the token for acme/Gated-8B \(HTTP 403\)"):
        resolve("acme/Gated-8B", token=TOKEN_OTHER)
    assert fake.count("acme/Gated-8B", "config.json") == asked + 2
    # the right token again: served from memory, no new request
    assert resolve("acme/Gated-8B", token=TOKEN_OK).spec.parameters == LLAMA_8B
    assert fake.count("acme/Gated-8B", "config.json") == asked + 2


def test_library_never_reads_hf_token_but_the_cli_does(fake, monkeypatch, capsys):
    """A server (the app) must not lend its own HF_TOKEN to anonymous users: only the CLI reads it."""
    monkeypatch.setenv("HF_TOKEN", TOKEN_OK)
    with pytest.raises(GatedModelError):
        resolve("acme/Gated-8B")
    assert fake.requests[-1][2] is None
    assert main(["acme/Gated-8B", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "hub"
    assert fake.requests[-1][2] == TOKEN_OK


def test_token_is_never_logged_stored_or_kept_in_clear(fake, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    resolve("acme/Gated-8B", token=TOKEN_OK)
    with pytest.raises(GatedModelError) as error:
        resolve("acme/Gated-8B", token="hf_unknownToken")
    assert "hf_unknownToken" not in str(error.value)
    assert TOKEN_OK not in caplog.text and "hf_unknownToken" not in caplog.text
    assert TOKEN_OK not in repr(list(hub.CACHE._items))
    written = [os.path.join(root, name) for root, _, names in os.walk(tmp_path) for name in names]
    assert written == []  # nothing on disk: no token, no gated config.json


def test_unknown_token_is_refused_with_the_fix(fake):
    with pytest.raises(GatedModelError, match=r"the Hub refused the token for acme/Llama-8B-Copy \(HTTP 401\).*check the token$"):
        resolve("acme/Llama-8B-Copy", token="hf_unknownToken")


def test_gated_catalog_model_falls_back_to_the_bundled_entry(fake):
    fake.add("meta-llama/Llama-3.1-8B", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B}, gated=True)
    resolved = resolve("meta-llama/Llama-3.1-8B")
    assert resolved.source == "catalog"
    assert resolved.spec.parameters == LLAMA_8B
    assert resolved.notes == ("meta-llama/Llama-3.1-8B is gated: showing the bundled entry; for the repo's own files, accept the licence "
                              "on the model page (https://huggingface.co/meta-llama/Llama-3.1-8B) and give an access token, "
                              "or type its size (8.03B parameters, from the Hub) for a weights-only estimate",)


# --- Faults -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("token", "message"), [
    (None, r"^acme/Missing-7B not found on the Hub: check the spelling \(a private model also needs a token\)$"),  # 401
    (TOKEN_OK, r"^acme/Missing-7B not found on the Hub: check the spelling$"),  # 404
])
def test_missing_model(fake, token, message):
    with pytest.raises(ModelNotFoundError, match=message):
        resolve("acme/Missing-7B", token=token)


@pytest.mark.parametrize(("fault", "error", "message"), [
    ("api-401", ModelNotFoundError, r"not found on the Hub: check the spelling \(a private model also needs a token\)$"),
    ("api-403", GatedModelError, r"is gated: accept the licence on the model page .* and give an access token$"),
    ("api-404", ModelNotFoundError, r"not found on the Hub: check the spelling"),
    ("api-429", HubUnavailableError, r"^the Hub is rate-limiting requests \(HTTP 429\) for acme/Faulty-8B: wait a minute and try again$"),
    ("api-500", HubUnavailableError, r"^the Hub answered HTTP 500 for acme/Faulty-8B: try again in a moment$"),
    ("api-503", HubUnavailableError, r"^the Hub answered HTTP 503 for acme/Faulty-8B: try again in a moment$"),
    ("api-bad-json", HubUnavailableError, r"^the Hub sent an answer about acme/Faulty-8B that is not valid model info: try again$"),
    ("api-hang", HubUnavailableError, r"^the Hub did not answer about acme/Faulty-8B within 1 s: try again$"),
    ("config-404", ConfigError, r"^acme/Faulty-8B has no config.json on the Hub .*: give a config.json file or a parameter count$"),
    ("config-500", HubUnavailableError, r"^the Hub answered HTTP 500 for acme/Faulty-8B: try again in a moment$"),
    ("config-hang", HubUnavailableError, r"within 1 s: try again$"),
    ("config-bad-json", ConfigError, r"^config.json of acme/Faulty-8B on the Hub is not valid JSON: give a config.json file or a parameter count instead$"),
])
def test_each_fault_has_its_message_and_nothing_is_cached(fake, fault, error, message):
    repo = fake.add("acme/Faulty-8B", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B}, fault=fault)
    started = time.monotonic()
    with pytest.raises(error, match=message) as raised:
        resolve("acme/Faulty-8B")
    assert time.monotonic() - started < 4  # the 1 s timeout bounds a hang (twice at most: model info + config)
    assert "\n" not in str(raised.value)
    assert len(hub.CACHE) == 0
    # once the Hub behaves, the next request asks it again and gets the real answer
    repo.fault = None
    asked = len(fake.requests)
    assert resolve("acme/Faulty-8B").spec.parameters == LLAMA_8B
    assert len(fake.requests) > asked


def test_config_without_the_needed_fields(fake):
    fake.add("acme/Broken-1B", {"model_type": "llama", "architectures": ["LlamaForCausalLM"]}, safetensors={"BF16": 1_000_000})
    with pytest.raises(ConfigError, match=r"^config.json of acme/Broken-1B on the Hub: ") as raised:
        resolve("acme/Broken-1B")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("fault", ["api-500", "api-429", "api-hang", "api-bad-json"])
def test_hub_fault_on_a_catalog_model_shows_the_bundled_entry(fake, fault):
    fake.add("meta-llama/Llama-3.1-8B", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B}, fault=fault)
    resolved = resolve("https://huggingface.co/meta-llama/Llama-3.1-8B")
    assert resolved.source == "catalog"
    assert resolved.spec.parameters == LLAMA_8B
    assert len(resolved.notes) == 1 and resolved.notes[0].startswith("the Hub did not answer (")
    assert resolved.notes[0].endswith("): showing the bundled entry")


def test_connection_refused_falls_back_to_the_catalog(fake, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    resolved = resolve("meta-llama/Llama-3.1-8B")
    assert resolved.source == "catalog"
    assert resolved.notes[0].startswith(f"the Hub did not answer (cannot reach the Hub at http://127.0.0.1:{closed_port} (ConnectError))")
    with pytest.raises(HubUnavailableError, match=r"cannot reach the Hub at .*: check the connection and try again$"):
        resolve("acme/Llama-8B-Copy")


# --- Offline ------------------------------------------------------------------------------------------


def test_offline_flag_answers_from_the_catalog_without_asking(fake):
    resolved = resolve("meta-llama/Llama-3.1-8B", offline=True)
    assert (resolved.source, resolved.spec.parameters) == ("catalog", LLAMA_8B)
    assert resolved.notes == ("offline mode: showing the bundled entry",)
    assert fake.requests == []


def test_hf_hub_offline_environment(fake, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resolved = resolve("meta-llama/Llama-3.1-8B@main")
    assert resolved.source == "catalog"
    assert resolved.notes == ("HF_HUB_OFFLINE is set: showing the bundled entry (revision main not checked)",)
    with pytest.raises(HubUnavailableError, match=r"^HF_HUB_OFFLINE is set, and acme/Llama-8B-Copy is not in the bundled catalog: go online"):
        resolve("acme/Llama-8B-Copy")
    assert fake.requests == []


# --- The checkpoint's own facts ----------------------------------------------------------------------


def test_quantized_checkpoint_keeps_config_count_and_records_dtypes(fake):
    gptq = dict(LLAMA_CONFIG, quantization_config={"quant_method": "gptq", "bits": 4, "group_size": 128})
    packed = {"I32": 1_050_000_000, "F16": 1_100_000_000}  # int4 packed 8 per int32, plus 16-bit embeddings and scales
    fake.add("acme/Llama-8B-GPTQ", gptq, safetensors=packed)
    resolved = resolve("acme/Llama-8B-GPTQ")
    assert resolved.spec.parameters == LLAMA_8B
    assert resolved.spec.quantization == {"quant_method": "gptq", "bits": 4, "group_size": 128}
    assert resolved.safetensors == packed
    assert resolved.notes == ("quantized checkpoint (gptq): its safetensors hold 2,150,000,000 elements (F16 1,100,000,000, I32 1,050,000,000); "
                              "packed low-bit tensors hold several parameters per element and scales add some, so the count is config.json's 8,030,261,248",)


def test_checkpoint_larger_than_config_uses_checkpoint_count_and_says_both(fake):
    extra = 440_000_000  # e.g. a vision tower: 5.5% more than the text model
    fake.add("acme/Vision-8B", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B + extra})
    resolved = resolve("acme/Vision-8B")
    assert resolved.spec.parameters == LLAMA_8B + extra
    assert resolved.spec.breakdown["other"] == extra  # the difference is put under "other", so the terms still add up
    assert sum(resolved.spec.breakdown.values()) == LLAMA_8B + extra
    assert resolved.notes == (f"the checkpoint holds {LLAMA_8B + extra:,} parameters, {extra:,} more than config.json's model "
                              f"({LLAMA_8B:,}; e.g. a vision tower or MTP layers): weights use the checkpoint's count",)


def test_small_difference_takes_the_checkpoint_count_silently(fake):
    fake.add("acme/Near-8B", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B + 4096})
    resolved = resolve("acme/Near-8B")
    assert resolved.spec.parameters == LLAMA_8B + 4096
    assert resolved.notes == ()


def test_checkpoint_smaller_than_config_keeps_the_config_count(fake):
    fake.add("acme/Small-8B", LLAMA_CONFIG, safetensors={"BF16": 7_000_000_000})
    resolved = resolve("acme/Small-8B")
    assert resolved.spec.parameters == LLAMA_8B
    assert resolved.notes == (f"the checkpoint's safetensors hold 7,000,000,000 parameters, config.json's model {LLAMA_8B:,}: using the config count",)


def test_repo_without_safetensors_uses_the_config(fake):
    fake.add("acme/Bin-8B", LLAMA_CONFIG, safetensors=None)
    resolved = resolve("acme/Bin-8B")
    assert (resolved.spec.parameters, resolved.safetensors, resolved.notes) == (LLAMA_8B, None, ())


# --- The fake is faithful to what huggingface_hub needs ---------------------------------------------


def test_fake_hub_serves_hf_hub_download(fake, tmp_path):
    from huggingface_hub import hf_hub_download
    import json

    path = hf_hub_download("acme/Llama-8B-Copy", "config.json", revision="v1", endpoint=fake.url,
                           cache_dir=tmp_path / "cache", token=False)
    assert json.loads(open(path).read()) == LLAMA_CONFIG
    assert ("HEAD", "/acme/Llama-8B-Copy/resolve/v1/config.json", None) in fake.requests


def test_no_test_can_reach_another_host(fake):
    import socket

    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="tests may not connect"):
        sock.connect(("192.0.2.1", 443))
    with pytest.raises(OSError, match="tests may not look up"):
        socket.getaddrinfo("huggingface.co", 443)

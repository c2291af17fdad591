"""Inputs an attacker would try, against the library and the CLI, each with the outcome it must get.

The app's half (its API, share links, toasts) is tests/test_hostile_app.py. Time bounds here are
behavioural ("answers at all, well within a second"), generous enough for a busy 2-core machine.
"""

from __future__ import annotations

import builtins
import json
import os
import pathlib
import time

import pytest

from llmmem import catalog
from llmmem.errors import ConfigError, HubUnavailableError, InputError, LlmmemError
from llmmem.resolve import LOCAL_FILES_REFUSED, MAX_MODEL_TEXT, parse_parameter_count, resolve

from fakehub import ABSURD_VALUES, absurd_config, loopback_only

REGEX_BOMB = "1" + " " * 2400 + "!"  # took 10.7 s under the old backtracking count regex


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    loopback_only(monkeypatch)
    monkeypatch.delenv("HF_TOKEN", raising=False)


def _message(text: str, **kwargs) -> str:
    with pytest.raises(LlmmemError) as error:
        resolve(text, **kwargs)
    return str(error.value)


# --- allow_local_files=False: the text never reaches the file system ---------------------------------------

PATHS = [
    # (exists on this machine, its missing twin)
    ("/etc/passwd", "/etc/no-such-passwd"),
    ("/nope/x.json", "/etc/hostname.json"),
    ("/root", "/no-such-root"),
    ("~/.cache/huggingface/token", "~/.cache/no-such/token"),
    ("/proc/self/fd/0", "/proc/self/fd/999999"),
    ("/dev/zero", "/dev/no-such-zero"),
    ("~x", "~root"),
    ("~", "~/"),
    ("./config.json", "./no-such.json"),
    ("../README.md", "../no-such.md"),
    ("tests/", "no-such-folder/"),
    ("config.json", "no-such.json"),
    ("a/b/c", "tests/fixtures/configs"),
    ("C:\\Windows\\win.ini", "..\\..\\x"),
]


@pytest.mark.parametrize(("path", "twin"), PATHS)
def test_local_paths_get_one_fixed_message(path, twin, monkeypatch):
    asked = []

    def touched(*args, **kwargs):
        asked.append(args)
        raise AssertionError("the file system was asked")

    # NOTE: any look at the file system is recorded and fails, so the answer cannot depend on what exists
    answers = []
    catalog.entries()  # the bundled catalog (package data, not visitor text) may be read: read it first
    with monkeypatch.context() as patch:
        for name in ("exists", "is_dir", "is_file", "expanduser", "stat", "open", "resolve", "read_text"):
            patch.setattr(pathlib.Path, name, touched)
        patch.setattr(os, "stat", touched)
        patch.setattr(os, "open", touched)
        patch.setattr(builtins, "open", touched)
        for text in (path, twin):
            try:
                resolve(text, allow_local_files=False)
            except Exception as exc:  # noqa: BLE001 - compared below, outside the patch
                answers.append(exc)
    assert asked == []
    assert all(isinstance(exc, InputError) for exc in answers), answers
    first, second = map(str, answers)
    assert first == second == LOCAL_FILES_REFUSED
    assert "\n" not in first and path not in first


def test_long_text_is_refused_before_parsing_with_a_message_that_does_not_echo_it():
    for text in ("a" * 260 + "/b", "/" + "a" * 300, "b" * 5000):
        message = _message(text, allow_local_files=False)
        assert message.startswith(f"the model is {len(text):,} characters long, more than {MAX_MODEL_TEXT}:")
        assert "aaaa" not in message


ACCEPTED_WITHOUT_FILES = [
    # text                                                 source             parameters
    ("70B", "parameter-count", 70_000_000_000),
    ("  1.5T parameters ", "parameter-count", 1_500_000_000_000),
    ("8.03 billion", "parameter-count", 8_030_000_000),
    ("1,234,567", "parameter-count", 1_234_567),
    ("llama-3.1-8b", "catalog", 8_030_261_248),
    ("meta-llama/Llama-3.1-8B", "catalog", 8_030_261_248),
    ("https://huggingface.co/Qwen/Qwen2.5-7B/blob/main/config.json", "catalog", 7_615_616_512),
    ("hf.co/Qwen/Qwen2.5-7B", "catalog", 7_615_616_512),
]


@pytest.mark.parametrize(("text", "source", "parameters"), ACCEPTED_WITHOUT_FILES)
def test_ids_urls_catalog_names_and_counts_still_answer(text, source, parameters):
    resolved = resolve(text, allow_local_files=False, offline=True)
    assert (resolved.source, resolved.spec.parameters) == (source, parameters)


def test_local_files_still_work_where_allowed(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}')
    assert resolve(str(tmp_path)).spec.parameters == 124_439_808
    assert _message(str(tmp_path), allow_local_files=False) == LOCAL_FILES_REFUSED


# --- The parameter-count grammar is linear ------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    REGEX_BOMB,
    "1" + " " * 100_000 + "!",
    "1" * 100_000 + "x",
    "1," * 50_000 + "B!",
    "1" + " " * 50_000 + "b" + " " * 50_000 + "!",
    "1e" + "9" * 100_000,
    "9." + "9" * 100_000 + "e",
])
def test_count_parser_answers_at_once_for_100_kb(text):
    started = time.perf_counter()
    with pytest.raises(InputError) as error:
        parse_parameter_count(text)
    assert time.perf_counter() - started < 0.5  # linear scan: ~10 ms on a busy core; backtracking took seconds
    assert "\n" not in str(error.value) and len(str(error.value)) < 200


def test_regex_bomb_through_resolve_answers_at_once():
    for kwargs in ({"allow_local_files": False}, {"allow_local_files": True}):
        started = time.perf_counter()
        with pytest.raises(InputError):
            resolve(REGEX_BOMB, **kwargs)
        assert time.perf_counter() - started < 0.5


COUNTS = [
    ("70B", 70_000_000_000), ("70 B", 70_000_000_000), ("70b params", 70_000_000_000), ("7e9", 7_000_000_000),
    ("7E+9 parameters", 7_000_000_000), ("350M", 350_000_000), ("1.5t", 1_500_000_000_000), ("12_000", 12_000),
    ("100 parameters", 100), ("2 thousand", 2_000), ("3 mn", 3_000_000), ("405853388800", 405_853_388_800),
    ("123456789012345", 123_456_789_012_345), (" 8 bn ", 8_000_000_000), ("0.5k", 500),
]


@pytest.mark.parametrize(("text", "count"), COUNTS)
def test_count_grammar(text, count):
    assert parse_parameter_count(text) == count


@pytest.mark.parametrize("text", ["70 B B", "70 params B", "70x", "1.", "1.e5", ".5B", "1e", "1 e5", "7B!", "1e400", "0", "1e-5", "2e15", "70 billions"])
def test_count_grammar_refuses(text):
    with pytest.raises(InputError, match="parameter count"):
        parse_parameter_count(text)


# --- Tokens are bounded and never quoted back --------------------------------------------------------------

@pytest.mark.parametrize(("token", "message"), [
    (12345, "the access token must be text, not int"),
    ("hf_" + "x" * 600, "the access token is 603 characters long, more than 512"),
    ("hf_abc def", "the access token holds spaces, control or non-ASCII characters"),
    ("hf_abc\r\nX-Injected: 1", "the access token holds spaces, control or non-ASCII characters"),
])
def test_bad_tokens_are_refused_without_echo(token, message):
    text = _message("meta-llama/Llama-3.1-8B", token=token, allow_local_files=False)
    assert text.startswith(message)
    assert "hf_" not in text and "xxxx" not in text


# --- A hostile Hub: slow, huge, looping, absurd ------------------------------------------------------------

def _rss_bytes(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def peak_rss_growth(action) -> int:
    """How far this process's resident memory rose above its start while `action` ran (bytes)."""
    import threading

    before = _rss_bytes()
    try:  # NOTE: Linux resets the high-water mark (VmHWM) when 5 is written to clear_refs
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        sampler = None
    except OSError:
        peak = [before]
        done = threading.Event()

        def sample():
            while not done.wait(0.002):
                peak[0] = max(peak[0], _rss_bytes())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    try:
        action()
    finally:
        if sampler is not None:
            done.set()
            sampler.join()
    top = _rss_bytes("VmHWM") if sampler is None else peak[0]
    return max(0, top - before)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    from fakehub import fake_hub_session

    with fake_hub_session(monkeypatch, tmp_path / "hf_home") as fake_hub:
        yield fake_hub


LLAMA_CONFIG = catalog.load_config(catalog.find("meta-llama/Llama-3.1-8B"))
LLAMA_8B = 8_030_261_248


def _refused(error_class, text: str, **kwargs) -> tuple[str, float]:
    started = time.perf_counter()
    with pytest.raises(error_class) as error:
        resolve(text, allow_local_files=False, **kwargs)
    message = str(error.value)
    assert "\n" not in message and len(message) < 400
    return message, time.perf_counter() - started


@pytest.mark.parametrize("fault", ["api-trickle", "config-trickle", "config-trickle-headers"])
def test_a_trickling_server_is_cut_off_at_the_deadline(fake, fault):
    from llmmem import hub

    fake.add("acme/Slow-8B", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B}, fault=fault)
    message, seconds = _refused(HubUnavailableError, "acme/Slow-8B")
    assert message == "the Hub did not finish answering about acme/Slow-8B within 3 s: try again"
    # each byte comes within the 1 s step timeout, so only the 3 s deadline ends it (the old code waited ~120 s)
    assert hub.DEADLINE_S <= seconds < hub.DEADLINE_S + 1.5
    assert len(hub.CACHE) == 0


def test_a_trickling_hub_falls_back_to_the_catalog(fake):
    fake.add("meta-llama/Llama-3.1-8B", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B}, fault="config-trickle")
    resolved = resolve("meta-llama/Llama-3.1-8B", allow_local_files=False)
    assert (resolved.source, resolved.spec.parameters) == ("catalog", LLAMA_8B)
    assert resolved.notes == ("the Hub did not answer (the Hub did not finish answering about meta-llama/Llama-3.1-8B within 3 s): "
                              "showing the bundled entry",)


@pytest.mark.parametrize(("fault", "error", "message"), [
    ("config-huge", ConfigError, "the config.json of acme/Huge-8B on the Hub is more than 2,097,152 bytes, larger than any real one: "
                                 "give a config.json file or a parameter count instead"),
    ("config-huge-unsized", ConfigError, "the config.json of acme/Huge-8B on the Hub is more than 2,097,152 bytes"),
    ("config-gzip-bomb", ConfigError, "the config.json of acme/Huge-8B on the Hub is more than 2,097,152 bytes"),
    ("api-huge", ConfigError, "the model info of acme/Huge-8B on the Hub is more than 1,048,576 bytes"),
])
def test_oversized_answers_are_refused_without_reading_them(fake, fault, error, message):
    from llmmem import hub

    fake.add("acme/Huge-8B", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B}, fault=fault)  # 100 MB bodies
    outcome = {}
    growth = peak_rss_growth(lambda: outcome.update(zip(("message", "seconds"), _refused(error, "acme/Huge-8B"))))
    assert outcome["message"].startswith(message)
    assert outcome["seconds"] < 3
    assert growth < 64 * 1024 * 1024  # the body is 100 MB (the gzip bomb inflates to 100 MB); a few MB are read
    assert fake.sent_bytes < 16 * 1024 * 1024  # the client hung up after the cap (plus socket buffers)
    assert len(hub.CACHE) == 0


@pytest.mark.parametrize(("fault", "message"), [
    ("api-redirect-loop", "the Hub's answer for the model info of acme/Loop-8B redirects in a loop: try again later, or give a config.json file or a parameter count"),
    ("config-redirect-loop", "the Hub's answer for the config.json of acme/Loop-8B redirects in a loop: try again later, or give a config.json file or a parameter count"),
    ("config-redirect-many", "the Hub's answer for the config.json of acme/Loop-8B redirected more than 5 times: try again later, or give a config.json file"),
])
def test_redirect_loops_are_reported_as_such(fake, fault, message):
    fake.add("acme/Loop-8B", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B}, fault=fault)
    text, seconds = _refused(HubUnavailableError, "acme/Loop-8B")
    assert text == message and seconds < 3
    assert fake.count("acme/Loop-8B") <= 2 + 6  # model info, config.json, and at most 6 hops


@pytest.mark.parametrize(("field", "value"), ABSURD_VALUES, ids=[f"{f}-{i}" for i, (f, _) in enumerate(ABSURD_VALUES)])
def test_absurd_config_values_from_the_hub_are_refused_in_one_line(fake, field, value):
    config = absurd_config(LLAMA_CONFIG, field, value)
    fake.add("acme/Absurd-8B", config, safetensors={"BF16": LLAMA_8B})
    outcome = {}
    growth = peak_rss_growth(lambda: outcome.update(zip(("message", "seconds"), _refused(ConfigError, "acme/Absurd-8B"))))
    message = outcome["message"]
    assert message.startswith(f"config.json of acme/Absurd-8B on the Hub: config.json ")
    assert field.split("_nest")[0] in message or "levels deep" in message
    assert message.endswith("fix the config.json, or give a parameter count like 7B") or "levels deep" in message
    assert "x" * 40 not in message  # long values are shortened, never echoed whole
    assert outcome["seconds"] < 1.5
    assert growth < 64 * 1024 * 1024  # "x"*100 experts per token built a 4.4 GB string; 10^9 layers took 8.9 GB


def test_cache_is_bounded_in_bytes_and_keyed_by_token_hash():
    from llmmem import hub

    cache = hub._Cache(size=100, max_bytes=8000)
    model = hub.HubModel("a/b", None, "0" * 40, {"model_type": "llama"})
    for index in range(20):
        cache.put(("url", f"a/m{index}", None, None), model, size=900)
    assert cache.bytes <= 8000 and len(cache) == 8  # 8 x 900 bytes; the oldest 12 went
    assert cache.get(("url", "a/m0", None, None)) is None and cache.get(("url", "a/m19", None, None)) is model
    cache.put(("url", "a/big", None, None), model, size=1001)  # more than an eighth of the cache: not kept
    assert cache.get(("url", "a/big", None, None)) is None and cache.bytes <= 8000
    one, other = hub._Cache.key(hub.ModelRef("a/b"), "hf_one", "u"), hub._Cache.key(hub.ModelRef("a/b"), "hf_two", "u")
    assert one != other and "hf_one" not in repr(one)


def test_real_answers_are_cached_with_their_size(fake):
    from llmmem import hub

    fake.add("acme/Llama-8B-Copy", LLAMA_CONFIG, safetensors={"BF16": LLAMA_8B})
    assert resolve("acme/Llama-8B-Copy", allow_local_files=False).spec.parameters == LLAMA_8B
    config_size = len(json.dumps(LLAMA_CONFIG, indent=2).encode())
    assert len(hub.CACHE) == 1 and config_size < hub.CACHE.bytes < config_size + 2000  # config.json + model info

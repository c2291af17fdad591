"""Inputs an attacker would try, against the library and the CLI, each with the outcome it must get.

The app's half (its API, share links, toasts) is tests/test_hostile_app.py. Time bounds here are
behavioural ("answers at all, well within a second"), generous enough for a busy 2-core machine.
"""

from __future__ import annotations

import builtins
import os
import pathlib
import time

import pytest

from llmmem import catalog
from llmmem.errors import InputError, LlmmemError
from llmmem.resolve import LOCAL_FILES_REFUSED, MAX_MODEL_TEXT, parse_parameter_count, resolve

from fakehub import loopback_only

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

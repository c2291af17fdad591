"""The one request: strings from URLs/CLI/API or typed values -> validated fields, one-line refusals."""

import dataclasses

import pytest

from llmmem.errors import InputError
from llmmem.request import LIMITS, Request, make_request


def test_defaults_are_the_stated_target():
    request = make_request(model="meta-llama/Llama-3.1-8B")
    assert request == Request(model="meta-llama/Llama-3.1-8B")
    assert (request.engine, request.gpus, request.context, request.concurrency) == ("vllm", ("H100-80GB", "A100-80GB"), None, 1)
    assert (request.tp, request.pp, request.gpu_memory_utilization, request.weights, request.kv_cache_dtype) == (None, None, 0.9, ("auto",), ("auto",))


def test_strings_become_typed_values():
    request = make_request(
        model=" Qwen/Qwen3-8B ", context="8,192", concurrency="max", tp="auto", pp="2", gpus="h100, A100 40GB",
        weights="AWQ,int4", kv_cache_dtype="bfloat16", dtype="bf16", gpu_memory_utilization="0.95",
        allow_long_context="true", max_num_seqs="256", prices=["h100=2.5"], unit="gib", new_tokens="128",
    )
    assert request.model == "Qwen/Qwen3-8B"
    assert (request.context, request.concurrency, request.tp, request.pp) == (8192, "max", None, 2)
    assert request.gpus == ("H100-80GB", "A100-40GB")
    assert request.weights == ("awq", "w4a16")  # aliases resolve to the registry's names
    assert (request.kv_cache_dtype, request.dtype) == (("bf16",), "bfloat16")
    assert (request.gpu_memory_utilization, request.allow_long_context, request.max_num_seqs) == (0.95, True, 256)
    assert request.prices == (("H100-80GB", 2.5),)
    assert (request.unit, request.new_tokens) == ("GiB", 128)


def test_typed_values_and_integral_floats_pass():
    request = make_request(model="m", context=4096.0, concurrency=8, tp=4, max_model_len=32768, prices={"H200": 3})
    assert (request.context, request.concurrency, request.tp, request.max_model_len) == (4096, 8, 4, 32768)
    assert request.prices == (("H200-141GB", 3.0),)


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("context", "inf", "context 'inf' is not a whole number from 1 to 16,777,216"),
        ("context", float("nan"), "context nan is not a whole number"),
        ("context", 1e400, "context inf is not a whole number"),
        ("context", "1e400", "context '1e400' is not a whole number"),
        ("context", -1, "context -1 is not a whole number from 1"),
        ("context", 0, "context 0 is not"),
        ("context", 2**24 + 1, "context 16777217 is not a whole number from 1 to 16,777,216"),
        ("context", 8192.5, "context 8192.5 is not"),
        ("concurrency", "0", "concurrency '0' is not a whole number from 1 to 1,000,000 or max"),
        ("concurrency", True, "concurrency True is not"),
        ("tp", 65, "tp 65 is not a whole number from 1 to 64 or auto"),
        ("pp", "two", "pp 'two' is not"),
        ("gpu_memory_utilization", 0, "gpu_memory_utilization 0 is not a number from 0.01 to 1"),
        ("gpu_memory_utilization", "1.5", "gpu_memory_utilization '1.5' is not a number from 0.01 to 1"),
        ("gpu_memory_utilization", "nan", "gpu_memory_utilization 'nan' is not"),
        ("gpu_memory_utilization", "1e400", "gpu_memory_utilization '1e400' is not"),
        ("max_num_seqs", -5, "max_num_seqs -5 is not a whole number from 1 to 1,000,000"),
        ("max_model_len", "max", "max_model_len 'max' is not"),
        ("max_gpus", 513, "max_gpus 513 is not a whole number from 1 to 512"),
        ("new_tokens", -1, "new_tokens -1 is not a whole number from 0"),
        ("engine", "tgi", "engine 'tgi' is not one of generic, vllm"),
        ("kv_cache_dtype", "int3", "kv_cache_dtype 'int3' is not one of auto, fp16, bf16, fp8"),
        ("weights", "q2", "weights 'q2' is not auto or one of fp32, fp16"),
        ("unit", "MB", "unit 'MB' is not GB"),
        ("allow_long_context", "maybe", "allow_long_context 'maybe' is not true or false"),
        ("prices", ["H100"], "price 'H100' is not GPU=USD_PER_HOUR"),
        ("prices", ["H100=-1"], "usd_per_hour '-1' is not a number from 0 to 10000"),
        ("gpus", ["Voodoo5"], "unknown GPU 'Voodoo5'"),
        ("model", "x" * 600, "model is 600 characters long: give at most 512"),
        ("model", "a\nb", "model holds control characters"),
        ("model", "  ", "no model given"),
        ("colour", "red", "unknown request field 'colour'"),
    ],
)
def test_refusals_are_one_line_naming_the_field(field, value, fragment):
    raw = {"model": "m", field: value}
    with pytest.raises(InputError) as info:
        make_request(**raw)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_every_limit_is_finite_and_ordered():
    for field, (low, high) in LIMITS.items():
        assert low < high and high < float("inf"), field


def test_a_request_is_frozen_and_never_holds_a_token():
    request = make_request(model="m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.model = "other"  # type: ignore[misc]
    assert "token" not in request.to_dict()
    with pytest.raises(InputError):
        make_request(model="m", token="hf_secret")


def test_max_model_len_shorter_than_the_context_is_refused():
    with pytest.raises(InputError) as info:
        make_request(model="Llama-3.1-8B", context="8192", max_model_len="4096")
    assert str(info.value) == ("max_model_len 4,096 is shorter than context 8,192: no sequence may exceed --max-model-len; "
                               "raise --max-model-len or lower --context")
    assert make_request(model="x", context="max", max_model_len=4096).max_model_len == 4096
    assert make_request(model="x", context=4096, max_model_len=4096).context == 4096

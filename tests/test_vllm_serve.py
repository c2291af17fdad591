"""`python -m llmmem vllm serve ...`: vLLM's flags, vLLM's defaults, the start-up checks in vLLM's words,
and fixes that start when fed back. Expected figures are derived by hand from the model's shape."""

import json

import pytest

from llmmem.cli import main
from llmmem.engines.vllm import FORWARD_WORKSPACE_BYTES, SAMPLER_FP32_BYTES_PER_LOGIT
from llmmem.errors import InputError
from llmmem.serving import TP_COMM_BASE_BYTES
from llmmem.vllm_serve import check_vllm_serve, parse_command

GiB = 2**30
H100_BYTES = 81090 * 2**20  # what CUDA reports for an H100 80GB (gpus.py)


def check(command, **kw):
    kw.setdefault("offline", True)
    return check_vllm_serve(command, **kw)


def test_70b_at_its_default_max_model_len_on_two_h100s_does_not_start():
    out = check("vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 2", gpu="H100-80GB")
    e = out.estimate
    # vLLM's defaults: max_model_len = max_position_embeddings, utilization 0.9, 8192 tokens / 1024 seqs on an H100.
    assert (e.max_model_len, e.gpu_memory_utilization, e.max_num_batched_tokens, e.max_num_seqs) == (131072, 0.9, 8192, 1024)
    # Weights per GPU: every group but the norms splits in two, 2 bytes each; the 161 norms of 8192 stay whole;
    # plus the rotary cos/sin cache of 131072 positions x 128 x 2 bytes.
    params, norms = 70_553_706_496, (2 * 80 + 1) * 8192
    weights = (params - norms) // 2 * 2 + norms * 2 + 131072 * 128 * 2
    assert e.weights_bytes_per_gpu == weights == 70_588_579_840
    # Activation peak: the sampler run on 1024 rows of the 128,256 vocab (2-byte logits + the fp32 working set
    # per logit) with the 8192 x 8192 hidden states still alive; it beats the dense forward of 8192 tokens.
    sampler = int(8192 * 8192 * 2 + 1024 * 128256 * (2 + SAMPLER_FP32_BYTES_PER_LOGIT))
    forward = 8192 * (2 * 8192 + 3 * 28672 // 2) * 2 + FORWARD_WORKSPACE_BYTES
    assert e.activation_bytes == sampler == 2_091_096_473 > forward
    assert e.non_torch_bytes == TP_COMM_BASE_BYTES  # NCCL / custom all-reduce at tp 2
    available = int(0.9 * H100_BYTES) - (weights + sampler + TP_COMM_BASE_BYTES)
    assert e.kv_cache_bytes_per_gpu == available == 1_656_015_423  # 1.54 GiB
    # One block: 16 tokens x 80 layers x K and V x 4 KV heads per GPU x 128 x 2 bytes.
    block = 16 * 80 * 2 * 4 * 128 * 2
    assert e.num_blocks == available // block == 631 and e.kv_cache_tokens == 631 * 16 == 10096
    # check_enough_kv_cache_memory: one request of 131072 tokens needs 8192 blocks = 20.00 GiB.
    assert e.kv_cache_bytes_needed == 131072 // 16 * block == 20 * GiB
    # estimate_max_model_len's binary search: the longest length whose blocks fit, 631 x 16 tokens.
    assert e.estimated_max_model_len == 10096
    assert out.starts is False and out.failure["check"] == "max_seq_len"
    assert out.failure["message"] == (
        "To serve at least one request with the models's max seq len (131072), (20.00 GiB KV cache is needed, "
        "which is larger than the available KV cache memory (1.54 GiB). Based on the available memory, the estimated "
        "maximum model length is 10096. Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when "
        "initializing the engine."
    )
    changes = {fix["change"].split(" (")[0]: fix["command"] for fix in out.fixes}
    assert changes["lower --max-model-len to 10096"] == "vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 2 --max-model-len 10096"
    assert changes["use --tensor-parallel-size 4"] == "vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 4"
    # 0.95 adds 0.05 x 79.19 GiB = 3.96 GiB, and fp8 halves the 20 GiB need to 10 GiB: neither is enough.
    assert not any("gpu-memory-utilization" in c or "kv-cache-dtype" in c for c in changes)
    for fix in out.fixes:  # every fix starts when fed back
        assert check(fix["command"], gpu="H100-80GB").starts, fix


def test_fixes_raise_utilization_when_that_is_enough():
    # Qwen3-8B at its full 40960 tokens on an RTX 4090: one request needs 36 layers x 2 x 8 KV heads x 128 x 2
    # bytes x 40960 = 6.04e9 bytes of KV, a little more than the ~5.6e9 left at 0.9.
    out = check("vllm serve Qwen/Qwen3-8B", gpu="RTX4090-24GB")
    assert out.estimate.kv_cache_bytes_needed == 36 * 2 * 8 * 128 * 2 * 40960
    assert out.failure["check"] == "max_seq_len"
    utilization = [f for f in out.fixes if "gpu-memory-utilization" in f["change"]]
    kv = [f for f in out.fixes if "kv-cache-dtype" in f["change"]]
    assert kv and kv[0]["command"].endswith("--kv-cache-dtype fp8")
    for fix in out.fixes:
        assert check(fix["command"], gpu="RTX4090-24GB").starts, fix
    (fix,) = utilization
    assert fix["command"] == "vllm serve Qwen/Qwen3-8B --gpu-memory-utilization 0.92"
    # the smallest step that starts: one hundredth less does not
    assert not check("vllm serve Qwen/Qwen3-8B --gpu-memory-utilization 0.91", gpu="RTX4090-24GB").starts


def test_no_available_memory_for_the_cache_blocks():
    out = check("vllm serve meta-llama/Llama-3.1-70B -q fp8 --gpu-memory-utilization 0.85 --max-model-len 4096", gpu="H100")
    assert out.failure == {
        "check": "no_available_memory",
        "message": "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
    }
    assert out.estimate.kv_cache_bytes_per_gpu == 0
    commands = [f["command"] for f in out.fixes]
    assert "vllm serve meta-llama/Llama-3.1-70B -q fp8 --max-model-len 4096 --gpu-memory-utilization 0.9" in commands
    for command in commands:
        assert check(command, gpu="H100").starts


def test_weights_that_do_not_load():
    out = check("vllm serve meta-llama/Llama-3.1-70B", gpu="H100")
    assert out.failure["check"] == "model_loading" and "131.45 GiB" in out.failure["message"]
    assert [f["command"] for f in out.fixes] == ["vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 4"]


def test_tp_that_does_not_divide_the_heads():
    out = check("vllm serve meta-llama/Llama-3.1-70B -tp 3", gpu="H100")
    assert out.estimate is None and out.starts is False
    assert out.failure == {"check": "tensor_parallel", "message": "Total number of attention heads (64) must be divisible by tensor parallel size (3)."}
    assert [f["command"] for f in out.fixes] == ["vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 4"]


def test_max_model_len_beyond_the_model_and_the_env_override():
    out = check("vllm serve meta-llama/Llama-3.1-8B --max_model_len=1M", gpu="H100")
    assert out.failure["check"] == "max_model_len"
    assert out.failure["message"].startswith(
        "User-specified max_model_len (1048576) is greater than the derived max_model_len (max_position_embeddings=131072"
    )
    assert [f["command"] for f in out.fixes] == ["vllm serve meta-llama/Llama-3.1-8B --max-model-len 131072"]
    allowed = check("VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 vllm serve meta-llama/Llama-3.1-8B --max-model-len 200000", gpu="H200")
    assert allowed.starts and allowed.estimate.max_model_len == 200000
    assert any("VLLM_ALLOW_LONG_MAX_MODEL_LEN=1" in note for note in allowed.notes)


def test_vllm_spellings_are_parsed():
    parsed = parse_command(
        "vllm serve org/m -tp 2 --pipeline_parallel_size=2 --max-model-len=32k --gpu-memory-utilization 0.95 "
        "--enforce-eager --port 8000 --trust-remote-code --kv-cache-dtype fp8_e4m3 -q awq --max-num-seqs 64"
    )
    assert parsed.model == "org/m"
    assert dict(parsed.values) == {
        "tp": "2", "pp": "2", "max_model_len": "32k", "gpu_memory_utilization": "0.95", "kv_cache_dtype": "fp8_e4m3",
        "quantization": "awq", "max_num_seqs": "64",
    }
    assert parsed.ignored == ("--port 8000", "--trust-remote-code") and "--enforce-eager" in parsed.switches
    out = check("vllm serve meta-llama/Llama-3.1-8B -tp 2 --max-model-len 32k --kv-cache-dtype fp8_e4m3 --port 8000", gpu="H100")
    e = out.estimate
    assert (e.tp, e.max_model_len, e.kv_cache_dtype) == (2, 32000, "fp8")  # 32k = 32,000 as vLLM reads it
    assert any(note == "flags that do not change the memory estimate: --port 8000" for note in out.notes)
    assert parse_command(["--model", "org/x", "--tensor-parallel-size", "4"]).model == "org/x"


@pytest.mark.parametrize(
    "command, fragment",
    [
        ("vllm serve", "no model in the command"),
        ("vllm serve meta-llama/Llama-3.1-8B --max-model-len inf", "max_model_len 'inf' is not a whole number"),
        ("vllm serve meta-llama/Llama-3.1-8B --gpu-memory-utilization 1e400", "gpu_memory_utilization '1e400' is not"),
        ("vllm serve meta-llama/Llama-3.1-8B --dtype int3", "--dtype 'int3' is not one vLLM knows"),
        ("vllm serve meta-llama/Llama-3.1-8B -tp", "-tp needs a value"),
    ],
)
def test_bad_commands_are_one_line(command, fragment):
    with pytest.raises(InputError) as info:
        check(command, gpu="H100")
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_cli_json_is_the_engine_object_plus_starts_failure_fixes(capsys):
    assert main(["vllm", "serve", "meta-llama/Llama-3.1-70B", "--tensor-parallel-size", "2", "--gpu", "H100-80GB", "--offline", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["engine"] == "vllm" and out["kv_cache_tokens"] == 10096 and out["max_model_len"] == 131072
    assert out["starts"] is False and out["failure"]["check"] == "max_seq_len"
    assert out["fixes"][0] == {
        "change": "lower --max-model-len to 10096 (vLLM's estimated maximum model length)",
        "command": "vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 2 --max-model-len 10096",
    }
    # --engine vllm reports the same prediction
    assert main(["meta-llama/Llama-3.1-70B", "--offline", "--engine", "vllm", "--tp", "2", "--max-model-len", "131072", "--json"]) == 0
    serving = json.loads(capsys.readouterr().out)["serving"]
    assert serving["starts"] is False and serving["failure"] == out["failure"]
    assert main(["vllm", "serve", "meta-llama/Llama-3.1-70B", "-tp", "2", "--offline"]) == 0
    text = capsys.readouterr().out
    assert "GPU KV cache size: 10,096 tokens" in text and "does not start (max_seq_len)" in text
    assert main(["vllm", "run", "x"]) == 2


def test_awq_or_gptq_on_a_16_bit_checkpoint_does_not_start():
    out = check("vllm serve meta-llama/Llama-3.1-8B -q awq --max-model-len 8192")
    # vLLM's get_quant_config looks for AWQ's config file beside the weights and stops without it.
    assert not out.starts and out.estimate is None
    assert out.failure == {"check": "quantization", "message": "Cannot find the config file for awq"}
    assert out.fixes == (
        {"change": "quantize the weights to fp8 on load instead (--quantization fp8)",
         "command": "vllm serve meta-llama/Llama-3.1-8B --max-model-len 8192 --quantization fp8"},
        {"change": "drop --quantization (serve the checkpoint's own weights)",
         "command": "vllm serve meta-llama/Llama-3.1-8B --max-model-len 8192"},
    )
    for fix in out.fixes:
        assert check(fix["command"]).starts
    assert check("vllm serve meta-llama/Llama-3.1-8B --quantization=gptq_marlin").failure["message"] == "Cannot find the config file for gptq_marlin"
    # fp8 quantizes on load; a checkpoint stored in fp8 takes -q fp8 as its own format
    assert check("vllm serve meta-llama/Llama-3.1-8B -q fp8 --max-model-len 8192").starts
    assert check("vllm serve Qwen/Qwen3-235B-A22B-FP8 -tp 4 -q fp8 --max-model-len 8192").starts


def test_an_encoder_start_up_says_it_keeps_no_kv_cache(capsys):
    assert main(["vllm", "serve", "google-bert/bert-base-multilingual-cased", "--offline"]) == 0
    text = capsys.readouterr().out
    assert "  no KV cache: no layer keeps anything per token or per sequence (encoder-only); each request is one forward pass\n" in text
    assert "GPU KV cache size" not in text and text.count("\nstarts\n") == 1


def test_a_config_without_a_maximum_length_gets_vllms_2048():
    out = check("vllm serve mistralai/Mamba-Codestral-7B-v0.1 --max-num-seqs 256")
    # Mamba-2 configs name no max_position_embeddings: vLLM assumes 2048 unless --max-model-len is given
    assert out.starts and out.estimate.max_model_len == 2048
    assert out.notes[0] == ("vLLM's defaults on H100-80GB: max_model_len 2048 (vLLM's default when config.json names no maximum "
                            "length), gpu_memory_utilization 0.9, max_num_batched_tokens 8192")
    assert check("vllm serve mistralai/Mamba-Codestral-7B-v0.1 --max-num-seqs 256 --max-model-len 65536").estimate.max_model_len == 65536


def test_a_url_or_catalog_name_is_fixed_to_the_repo_id_vllm_loads():
    out = check("vllm serve https://huggingface.co/meta-llama/Llama-3.1-70B -tp 2")
    assert out.command == "vllm serve https://huggingface.co/meta-llama/Llama-3.1-70B -tp 2"  # as typed
    assert out.notes[0] == "vLLM loads a Hub repo ID or a local folder: write meta-llama/Llama-3.1-70B, not https://huggingface.co/meta-llama/Llama-3.1-70B"
    assert out.fixes[0]["command"] == "vllm serve meta-llama/Llama-3.1-70B -tp 2 --max-model-len 10096"
    assert all(fix["command"].startswith("vllm serve meta-llama/Llama-3.1-70B ") for fix in out.fixes)
    bare = check("vllm serve Llama-3.1-8B -tp 3")
    assert bare.fixes == ({"change": "use --tensor-parallel-size 4 (it splits the heads evenly)",
                           "command": "vllm serve meta-llama/Llama-3.1-8B --tensor-parallel-size 4"},)
    assert not any(note.startswith("vLLM loads") for note in check("vllm serve meta-llama/Llama-3.1-8B").notes)


def test_another_format_than_a_quantized_checkpoints_own_does_not_start():
    out = check("vllm serve Qwen/Qwen3-235B-A22B-FP8 -tp 4 -q awq --max-model-len 8192")
    assert out.failure == {"check": "quantization", "message": (
        "Quantization method specified in the model config (fp8) does not match the quantization method specified in "
        "the `quantization` argument (awq).")}
    assert [fix["command"] for fix in out.fixes] == ["vllm serve Qwen/Qwen3-235B-A22B-FP8 -tp 4 --max-model-len 8192 --quantization fp8",
                                                     "vllm serve Qwen/Qwen3-235B-A22B-FP8 -tp 4 --max-model-len 8192"]


def test_llmmem_format_names_describe_the_checkpoint_and_are_not_refused():
    # `-q w4a16` is not a vLLM flag value: it says the checkpoint is stored in w4a16 (how the accuracy bench
    # replays measured runs of quantized repos on their base config), so it is sized, not refused
    out = check("vllm serve meta-llama/Llama-3.1-8B -q w4a16 --max-model-len 8192")
    assert out.starts and out.estimate.weights_format == "w4a16"
    assert check("vllm serve meta-llama/Llama-3.1-8B -q gptq_marlin --max-model-len 8192").failure["check"] == "quantization"

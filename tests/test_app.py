"""The app (app.py) as a client sees it: /estimate through gradio_client against the launched app.

The app is launched once per module on a free 127.0.0.1 port (tests/conftest.py: app_server), offline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from huggingface_hub.repocard import metadata_load

from llmmem import catalog
from llmmem.cli import main as cli_main

from fakehub import fake_hub_session

ROOT = Path(__file__).resolve().parents[1]
LLAMA_8B = 8_030_261_248  # transformers' count for meta-llama/Llama-3.1-8B (tests/fixtures/param_counts.tsv)
GATED_TOKEN = "hf_appTestTokenAccepted"


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server, verbose=False, download_files=False)


def estimate(client, model, **settings):
    return client.predict(model, **settings, api_name="/estimate")


# --- Answers --------------------------------------------------------------------------------------


def test_catalog_model_exact_count_and_bytes(client):
    report = estimate(client, "meta-llama/Llama-3.1-8B")
    assert report["model"] == "meta-llama/Llama-3.1-8B"
    assert report["source"] == "catalog"
    assert report["parameters"] == LLAMA_8B
    assert report["active_parameters"] is None and report["approximate"] is False
    assert [row["name"] for row in report["precisions"]] == ["fp32", "fp16", "int8", "int4"]
    fp16 = report["precisions"][1]
    assert fp16["weights_bytes"] == 2 * LLAMA_8B == 16_060_522_496
    assert fp16["seed_formula_bytes"] == 19_272_626_996  # ceil(8030261248 * 4 / 2 * 1.2)
    assert fp16["gpus"][0]["rule_of_thumb"] == {"count": 1, "tp_count": 1, "nodes": 1}
    assert report["gpus"] == [{"gpu": "H100-80GB", "label": "NVIDIA H100 80GB (SXM)", "memory_bytes": 81090 * 2**20}]
    # the page's default target: vLLM, min(8192, the model's 131,072 positions), 1 sequence
    assert report["target"] == {"engine": "vllm", "gpu": "H100-80GB", "context": 8192, "concurrency": 1, "default": False}
    serving = report["serving"]
    assert (serving["engine"], serving["tp"], serving["pp"], serving["max_model_len"]) == ("vllm", 1, 1, 8192)
    # untied 16-bit Llama: every weight at 2 bytes, plus vLLM's rotary cos/sin cache (131,072 positions x 128 x 2 bytes)
    assert serving["weights_bytes_per_gpu"] == 16_060_522_496 + 131_072 * 128 * 2
    assert serving["kv_cache_bytes_per_token"] == 32 * 2 * 8 * 128 * 2  # layers x (K, V) x KV heads x head_dim x bf16
    budget = int(0.9 * 81090 * 2**20)
    assert serving["requested_memory_bytes"] == budget == 76_526_125_056
    non_kv = serving["weights_bytes_per_gpu"] + serving["activation_bytes"] + serving["non_torch_bytes"]
    assert serving["kv_cache_tokens"] == (budget - non_kv) // (131_072 * 16) * 16  # whole blocks of 16 tokens
    assert serving["starts"] is True and serving["failure"] is None
    best = report["plan"]["plans"][0]
    assert (best["count"], best["tp"], best["pp"]) == (1, 1, 1)
    assert best["command"] == "vllm serve meta-llama/Llama-3.1-8B --max-model-len 8192"
    assert report["headline"] == ("meta-llama/Llama-3.1-8B at 16-bit: 1 x H100-80GB serves 1 sequence of 8,192 tokens, "
                                  "with KV cache for 443,568 tokens (54.15 such sequences).")


def test_one_request_gives_byte_identical_answers_from_the_library_the_cli_and_the_api(client, capsys):
    from llmmem.report import estimate_request
    from llmmem.request import make_request

    settings = dict(precisions="fp16,fp8,int4", gpus="A100-80GB", context=4096, concurrency=4, kv_cache_dtype="fp8", tp=2)
    api = estimate(client, "Qwen/Qwen3-30B-A3B", **settings)
    library = estimate_request(make_request(model="Qwen/Qwen3-30B-A3B", **settings), allow_local_files=False,
                               prefer_catalog=True).to_dict()
    assert cli_main(["Qwen/Qwen3-30B-A3B", "--precisions", "fp16,fp8,int4", "--gpu", "A100-80GB", "--context", "4096",
                     "--concurrency", "4", "--kv-cache-dtype", "fp8", "--tp", "2", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert json.dumps(api["serving"], sort_keys=True) == json.dumps(library["serving"], sort_keys=True) \
        == json.dumps(cli["serving"], sort_keys=True)
    assert api == library  # the whole object: /estimate is estimate_request(...).to_dict()
    # the CLI asks the Hub first (offline here, so it notes that); the app answers a catalog model from the catalog
    assert cli["notes"] == ["HF_HUB_OFFLINE is set: showing the bundled entry", *api["notes"]]
    assert {**cli, "notes": api["notes"]} == api
    assert api["serving"]["tp"] == 2 and api["serving"]["kv_cache_dtype"] == "fp8"
    assert api["active_parameters"] is not None and api["active_parameters"] < api["parameters"]


def test_the_page_default_request_is_the_cli_default_request(client, capsys):
    api = estimate(client, "meta-llama/Llama-3.1-70B")
    assert cli_main(["meta-llama/Llama-3.1-70B", "--gpu", "H100-80GB", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    # notes: the CLI also says it is offline; the app answers from the catalog at once
    assert cli["notes"][1:] == api["notes"] and {**cli, "notes": api["notes"]} == api


def test_raw_parameter_count_gives_the_seed_formula(client):
    report = estimate(client, "70B", precisions="fp16", gpus="A100-80GB")
    assert report["source"] == "parameter-count"
    assert report["parameters"] == 70_000_000_000
    (fp16,) = report["precisions"]
    assert fp16["seed_formula_bytes"] == 168_000_000_000
    assert fp16["weights_bytes"] == 140_000_000_000
    assert fp16["gpus"][0]["rule_of_thumb"] == {"count": 2, "tp_count": 2, "nodes": 1}
    assert fp16["gpus"][0]["count"] is None  # a bare count has no shape to plan or size a KV cache from
    assert report["serving"] is None and report["plan"] is None
    assert report["headline"] == ("70,000,000,000 parameters at 16-bit (fp16/bf16): 2 x A100-80GB by the rule of thumb "
                                  "(give a config.json or model ID for a serving plan)")


def test_custom_gpu_size(client):
    report = estimate(client, "7e9", precisions="fp16", gpus="24GB")
    assert report["gpus"][0]["memory_bytes"] == 24 * 10**9
    # 7e9 * 2 * 1.2 = 16.8e9 bytes: one 24 GB card
    assert report["precisions"][0]["seed_formula_bytes"] == 16_800_000_000
    assert report["precisions"][0]["gpus"][0]["rule_of_thumb"]["count"] == 1


def test_vllm_engine_settings_reach_the_serving_object(client):
    report = estimate(client, "meta-llama/Llama-3.1-8B", engine="vllm", gpu_memory_utilization=0.95, context=8192)
    serving = report["serving"]
    assert serving["engine"] == "vllm"
    assert serving["gpu_memory_utilization"] == 0.95
    assert serving["max_model_len"] == 8192
    assert serving["requested_memory_bytes"] == int(0.95 * 81090 * 2**20)


def test_the_vllm_serving_panel_adds_up_to_its_total(client):
    import app

    s = estimate(client, "meta-llama/Llama-3.1-70B")["serving"]
    terms = s["weights_bytes_per_gpu"] + s["kv_cache_bytes_per_gpu"] + s["activation_bytes"] + s["non_torch_bytes"]
    # vLLM fills its budget (0.9 x 81,090 MiB) with KV cache; the CUDA context sits outside the budget
    assert terms == s["requested_memory_bytes"] == int(0.9 * 81090 * 2**20)
    assert terms + s["cuda_context_bytes"] == s["total_bytes_per_gpu"]
    page = app.serving_html({"serving": s}, "GB")
    assert f"CUDA context (outside the budget)</td><td>{s['cuda_context_bytes'] / 1e9:,.2f}" in page.replace(' class="num"', "")


def test_a_hybrid_shows_its_fixed_state_per_sequence_beside_the_kv_per_token(client):
    import app

    report = estimate(client, "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    # One Mamba-2 layer on one GPU: conv state (conv_kernel 4 - 1) x (intermediate 64 x 64 + 2 x n_groups 8 x
    # state 128) in bf16, plus SSM state 64 heads x 64 x 128 in float32 (mamba_ssm_cache_dtype); 23 'M' layers.
    per_layer = 3 * (64 * 64 + 2 * 8 * 128) * 2 + 64 * 64 * 128 * 4
    assert per_layer == 2_134_016
    assert report["serving"]["state_bytes_per_sequence"] == 23 * per_layer
    page = app.serving_html(report, "GB")
    assert "fixed state per sequence" in page and f"{23 * per_layer:,}" in page
    assert f"{report['serving']['kv_cache_bytes_per_token']:,}" in page


def test_fine_tuning_is_the_training_estimate_with_its_terms(client):
    from llmmem.resolve import resolve
    from llmmem.training import TrainingOptions, estimate_training
    from llmmem.gpus import get_gpu

    result = client.predict("meta-llama/Llama-3.1-8B", gpus="H100-80GB", recipe="lora", batch=1, seq_len=2048,
                            api_name="/estimate_training")
    spec = resolve("meta-llama/Llama-3.1-8B", prefer_catalog=True, allow_local_files=False).spec
    assert result == estimate_training(spec, TrainingOptions(recipe="lora", gpu=get_gpu("H100-80GB"))).to_dict()
    # rank-16 adapters on every linear layer: per layer 16 x (in + out) for q, o (4096 -> 4096), k, v (4096 -> 1024)
    # and gate, up, down (4096 <-> 14336): 1,310,720 per layer, x 32 layers
    assert result["trainable_parameters"] == 32 * 16 * (2 * 8192 + 2 * 5120 + 3 * 18432) == 41_943_040
    assert result["terms"]["adapters"] == 4 * 41_943_040  # peft keeps adapters in fp32
    assert result["terms"]["weights"] == 2 * LLAMA_8B  # the frozen base in bf16
    assert result["gpus"][0]["count"] == 1 and result["peak_bytes"] < 81090 * 2**20
    with pytest.raises(AppError, match=r"70B parameters: a fine-tuning estimate needs the model's config.json or Hub ID"):
        client.predict("70B", api_name="/estimate_training")


# --- The inputs: declared once, the API and the share link derived from them ---------------------------


def test_the_api_parameters_are_the_declared_inputs(client):
    import app

    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/estimate"]
    assert [p["parameter_name"] for p in info["parameters"]] == [f.name for f in app.FIELDS]
    assert [p["parameter_default"] for p in info["parameters"]] == [f.default for f in app.FIELDS]


def test_a_share_link_round_trips_through_the_declared_inputs():
    import app

    values = app.parse_values({"model": "Qwen/Qwen3-30B-A3B", "gpus": "A100-80GB", "context": "max", "concurrency": 16,
                               "engine": "generic", "tp": "2", "precisions": ["fp16", "int4"], "unit": "GiB", "hf_token": "hf_secret"})
    query = app.query_string(values)
    assert query == ("model=Qwen%2FQwen3-30B-A3B&gpu=A100-80GB&context=max&concurrency=16&engine=generic&tp=2"
                     "&precisions=fp16%2Cint4&unit=GiB")  # only what differs from the defaults, never the token
    parsed, notes = app.values_from_query(dict(pair.split("=") for pair in query.replace("%2F", "/").replace("%2C", ",").split("&")))
    assert notes == [] and parsed == {**values, "hf_token": ""}


# --- Errors: one clear line, and the app keeps serving ---------------------------------------------


@pytest.mark.parametrize(
    ("model", "settings", "message"),
    [
        ("-7B", {}, r"'-7B' is not a parameter count: write a parameter count like 70B"),
        ("not a model!", {}, r"'not a model!' contains a space: model IDs have none"),
        ("acme/not-in-catalog", {}, r"HF_HUB_OFFLINE is set, and acme/not-in-catalog is not in the bundled catalog: go online, or give a catalog model or a count like 70B"),
        ("70B", {"gpus": "Z9000"}, r"unknown GPU 'Z9000': use a catalog name"),
        ("70B", {"precisions": "fp12"}, r"unknown precision 'fp12': use one of fp32, fp16, fp8, int8, int4"),
        ("meta-llama/Llama-3.1-8B", {"tp": 3}, r"tensor parallelism 3 does not divide the 32 attention heads"),
        ("meta-llama/Llama-3.1-8B", {"gpu_memory_utilization": 1.5}, r"gpu_memory_utilization 1.5 is not a number from 0.01 to 1: give one in that range"),
        ("meta-llama/Llama-3.1-8B", {"engine": "tgi"}, r"engine 'tgi' is not one of generic, vllm"),
    ],
)
def test_bad_input_is_one_clear_line_and_the_app_keeps_serving(client, model, settings, message):
    with pytest.raises(AppError) as error:
        estimate(client, model, **settings)
    text = str(error.value)
    assert re.search(message, text), text
    assert "Traceback" not in text and "\n" not in text.strip()
    assert estimate(client, "70B", precisions="int4")["precisions"][0]["weights_bytes"] == 35_000_000_000


# --- The network: never at import, never for a catalog model; gated models with a token ------------


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    with fake_hub_session(monkeypatch, tmp_path / "hf_home") as fake:
        llama = catalog.load_config(catalog.find("meta-llama/Llama-3.1-8B"))
        fake.add("acme/Gated-8B", llama, safetensors={"BF16": LLAMA_8B}, gated=True, allowed_tokens=frozenset({GATED_TOKEN}))
        yield fake


def test_catalog_model_answers_without_asking_the_hub(client, fake_hub):
    report = estimate(client, "https://huggingface.co/meta-llama/Llama-3.1-8B")
    assert report["source"] == "catalog" and report["parameters"] == LLAMA_8B
    assert fake_hub.requests == []


def test_gated_model_needs_a_token_and_the_token_is_not_kept(client, fake_hub):
    with pytest.raises(AppError, match=r"acme/Gated-8B is gated: accept the licence on the model page"):
        estimate(client, "acme/Gated-8B")
    report = estimate(client, "acme/Gated-8B", hf_token=GATED_TOKEN)
    assert report["source"] == "hub" and report["parameters"] == LLAMA_8B
    assert GATED_TOKEN not in json.dumps(report)
    # the next request without a token is refused again: nothing the token fetched is served to it
    with pytest.raises(AppError, match=r"is gated"):
        estimate(client, "acme/Gated-8B")
    tokens_seen = {token for _, path, token in fake_hub.requests if "config.json" in path}
    assert tokens_seen == {None, GATED_TOKEN}


def test_importing_the_app_touches_no_network():
    probe = (
        "import socket\n"
        "calls = []\n"
        "def refuse(*args, **kwargs):\n"
        "    calls.append(args)\n"
        "    raise OSError('no network at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "import app\n"
        "assert calls == [], calls\n"
        "assert app.demo is not None\n"
    )
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("HF_HUB_OFFLINE", None)
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# --- The Space ------------------------------------------------------------------------------------


def test_space_front_matter_is_valid():
    meta = metadata_load(ROOT / "README.md")
    assert meta is not None, "README.md must start with a --- front matter block"
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert {"title", "emoji", "colorFrom", "colorTo", "short_description", "license", "tags"} <= set(meta)
    allowed_colors = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
    assert meta["colorFrom"] in allowed_colors and meta["colorTo"] in allowed_colors
    assert 0 < len(meta["short_description"]) <= 60
    assert meta["hf_oauth"] is True  # the app offers "Sign in with Hugging Face" on a Space
    pins = re.findall(r"^gradio==([\w.]+)\s*$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pins == [str(meta["sdk_version"])], "sdk_version must equal requirements.txt's gradio== pin"

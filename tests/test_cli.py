"""The CLI contract: other tools call `python -m llmmem ... --json`, so its shape and errors are tested."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmmem.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "llmmem" / "catalog" / "configs"
LLAMA_8B = CONFIGS / "meta-llama__Llama-3.1-8B.json"


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_seed_example_70b_at_16_bit(capsys):
    report = run_json(capsys, "70B", "--precisions", "fp16", "--gpu", "A100-80GB")
    assert report["source"] == "parameter-count"
    assert report["parameters"] == 70_000_000_000
    assert report["active_parameters"] is None
    (fp16,) = report["precisions"]
    assert fp16["seed_formula_bytes"] == 168_000_000_000
    assert fp16["weights_bytes"] == 140_000_000_000
    # 168e9 bytes on two "80 GB" A100s: each really holds ~85.0e9 bytes, so two suffice by the rule of
    # thumb. A bare count has no shape, so the planner has no count (None) and the headline says so.
    (column,) = fp16["gpus"]
    assert column["rule_of_thumb"] == {"count": 2, "tp_count": 2, "nodes": 1}
    assert column["gpu"] == "A100-80GB" and {k: v for k, v in column.items() if k not in ("gpu", "rule_of_thumb")} == dict.fromkeys(
        ("count", "tp", "pp", "nodes", "kv_cache_tokens", "max_concurrency", "max_context", "weights_bytes_per_gpu", "command",
         "kv_cache_bytes_per_gpu", "activation_bytes", "non_torch_bytes", "total_bytes_per_gpu", "fits"))
    assert report["plan"] is None and report["serving"] is None
    assert "rule of thumb" in report["headline"] and "2 x A100-80GB" in report["headline"]


def test_contract_keys_for_a_config(capsys):
    report = run_json(capsys, str(LLAMA_8B))
    assert report["source"] == "config"
    assert report["parameters"] == 8_030_261_248
    assert report["approximate"] is False
    assert {"model", "source", "parameters", "active_parameters", "approximate", "precisions"} <= set(report)
    assert [p["name"] for p in report["precisions"]] == ["fp32", "fp16", "int8", "int4"]
    assert [p["bits"] for p in report["precisions"]] == [32, 16, 8, 4]
    for row in report["precisions"]:
        assert {"name", "bits", "weights_bytes", "seed_formula_bytes", "largest_layer_bytes", "training_adam_bytes", "gpus"} <= set(row)
        for count in row["gpus"]:
            assert {"gpu", "count", "tp", "pp", "nodes", "rule_of_thumb"} <= set(count)
            assert count["count"] == count["tp"] * count["pp"]
    fp32 = report["precisions"][0]
    assert fp32["weights_bytes"] == 4 * 8_030_261_248
    # Llama-3.1-8B's largest layer is its 128256 x 4096 embedding.
    assert fp32["largest_layer_bytes"] == 4 * 128_256 * 4_096
    assert fp32["training_adam_bytes"] == 16 * 8_030_261_248


def test_a_folder_holding_config_json(capsys, tmp_path):
    (tmp_path / "config.json").write_text(LLAMA_8B.read_text())
    assert run_json(capsys, str(tmp_path))["parameters"] == 8_030_261_248


def test_catalog_id_case_insensitive(capsys):
    report = run_json(capsys, "META-LLAMA/llama-3.1-8b", "--offline")
    assert (report["source"], report["parameters"]) == ("catalog", 8_030_261_248)


def test_moe_reports_active_parameters(capsys):
    report = run_json(capsys, str(CONFIGS / "mistralai__Mixtral-8x7B-v0.1.json"), "--precisions", "fp16")
    assert report["parameters"] == 46_702_792_704
    assert report["active_parameters"] == 12_879_925_248


def test_gpu_counts_respect_attention_heads(capsys):
    report = run_json(capsys, str(CONFIGS / "meta-llama__Llama-3.1-405B.json"), "--precisions", "fp16", "--gpu", "H100-80GB")
    (count,) = report["precisions"][0]["gpus"]
    # Rule of thumb: 405.85e9 x 2.4 = 974.0e9 bytes over 85.03e9 per H100: 12 GPUs, so two nodes of 8 with TP 8 each.
    assert count["rule_of_thumb"] == {"count": 12, "tp_count": 16, "nodes": 2}
    # The plan column is the planner's own best count for 16-bit weights at the default target.
    from llmmem.planner import plan
    from llmmem.gpus import get_gpu
    from llmmem.resolve import resolve

    spec = resolve(str(CONFIGS / "meta-llama__Llama-3.1-405B.json")).spec
    best = plan(spec, gpus=[get_gpu("H100-80GB")], context=8192, weights=("fp16",)).best
    assert (count["count"], count["tp"], count["pp"], count["nodes"]) == (best.count, best.tp, best.pp, best.nodes)
    # 811.7e9 bytes of 16-bit weights cannot fit in 10 x 0.9 x 85.03e9 = 765.2e9 bytes.
    assert count["count"] >= 11 and count["nodes"] == 2


def test_human_table_labels_units(capsys):
    assert main(["70B", "--precisions", "fp16"]) == 0
    out = capsys.readouterr().out
    assert "168.00 GB" in out and "GB = 10^9 bytes" in out
    assert main(["70B", "--precisions", "fp16", "--unit", "GiB"]) == 0
    assert "156.46 GiB" in capsys.readouterr().out  # 168e9 / 2^30


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["does/not/exist.json"], "no such file"),
        (["abc"], "not in the bundled catalog"),
        (["--", "-7B"], "like 70B"),
        (["0"], "like 70B"),
        (["70B", "--gpu", "Voodoo5"], "Voodoo5"),
        (["70B", "--precisions", "fp64"], "fp32, fp16"),
        (["70B", "--tp", "0"], "tp '0' is not a whole number from 1 to 64"),
        (["70B", "--tp", "2"], "only a parameter count"),
        (["70B", "--context", "inf"], "context 'inf' is not a whole number"),
        (["70B", "--gpu-memory-utilization", "1e400"], "gpu_memory_utilization '1e400' is not a number from 0.01 to 1"),
        (["70B", "--concurrency", "-3"], "concurrency '-3' is not a whole number"),
        (["70B", "--weights", "q2"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, fragment):
    assert_fails_cleanly(capsys, argv, fragment)


def test_bad_config_files(capsys, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert_fails_cleanly(capsys, [str(broken)], "not valid JSON")
    array = tmp_path / "array.json"
    array.write_text("[1, 2]")
    assert_fails_cleanly(capsys, [str(array)], "not an object")
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    assert_fails_cleanly(capsys, [str(empty)], "config.json")
    assert_fails_cleanly(capsys, [str(tmp_path)], "has no config.json")


def assert_fails_cleanly(capsys, argv, fragment):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors exit from inside
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("llmmem: ")
    assert fragment in err
    assert "Traceback" not in err


def test_real_process_json_and_no_heavy_imports():
    code = (
        "import sys, json, io, contextlib\n"
        "from llmmem.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf): rc = main([sys.argv[1], '--json'])\n"
        "heavy = [m for m in ('pandas', 'gradio', 'huggingface_hub') if m in sys.modules]\n"
        "print(json.dumps({'rc': rc, 'heavy': heavy, 'parameters': json.loads(buf.getvalue())['parameters']}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(CONFIGS / "deepseek-ai__DeepSeek-V3.json")], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"rc": 0, "heavy": [], "parameters": 671_026_404_352}


def test_real_process_error_has_no_traceback():
    done = subprocess.run([sys.executable, "-m", "llmmem", "nan"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("llmmem: ") and done.stderr.count("\n") == 1


def test_each_precision_row_has_its_serving_total(capsys):
    report = run_json(capsys, str(LLAMA_8B), "--gpu", "H100-80GB", "--context", "8192", "--batch", "4", "--engine", "generic")
    rows = {row["name"]: row for row in report["precisions"]}
    fp16 = rows["fp16"]["serving_total_bytes"]
    assert fp16 == report["serving"]["total_bytes_per_gpu"]  # the checkpoint is bf16: the same estimate
    # Only the linear layers change between the 16-bit and int8 rows: each of Llama-3.1-8B's 6,979,321,856
    # linear weights (all but the embedding, LM head and norms) drops from 2 bytes to 1 plus W8A8's fp32
    # per-channel scale (4 bytes per 4096 weights).
    linear = 8_030_261_248 - 2 * 128_256 * 4_096 - (2 * 32 + 1) * 4_096
    assert fp16 - rows["int8"]["serving_total_bytes"] == linear - linear * 4 // 4096
    assert rows["fp32"]["serving_total_bytes"] > fp16 > rows["int8"]["serving_total_bytes"] > rows["int4"]["serving_total_bytes"]
    assert all(row["serving_fits"] for row in rows.values())
    # KV cache at 8192 tokens x 4 sequences: 32 layers x 2 x 8 KV heads x 128 x 2 bytes per token.
    assert report["serving"]["kv_cache_bytes_per_gpu"] == 8192 * 4 * 131_072


def test_a_bare_count_has_no_serving_rows(capsys):
    report = run_json(capsys, "7B")
    assert report["serving"] is None
    assert report["precisions"][0]["serving_total_bytes"] is None and report["precisions"][0]["serving_fits"] is None


def test_library_and_cli_json_are_byte_identical(capsys):
    from llmmem.report import estimate_request
    from llmmem.request import make_request

    request = make_request(model=str(LLAMA_8B), context="4096", concurrency="8", gpus=["H100-80GB"], engine="vllm")
    library = json.dumps(estimate_request(request).to_dict(), indent=2)
    assert main([str(LLAMA_8B), "--context", "4096", "--concurrency", "8", "--gpu", "H100-80GB", "--engine", "vllm", "--json"]) == 0
    assert capsys.readouterr().out == library + "\n"


def test_default_answer_is_the_planners_best_plan(capsys):
    report = run_json(capsys, "meta-llama/Llama-3.1-70B", "--offline")
    # The stated default target: vLLM on the first GPU (H100-80GB), min(8192, 131072) tokens, 1 sequence.
    assert report["target"] == {"engine": "vllm", "gpu": "H100-80GB", "context": 8192, "concurrency": 1, "default": True}
    best = report["plan"]["plans"][0]
    assert best["count"] == 2 and best["gpu"] == "H100-80GB"
    serving = report["serving"]
    assert (serving["tp"], serving["pp"], serving["max_model_len"]) == (best["tp"], best["pp"], 8192)
    assert serving["starts"] is True and serving["failure"] is None
    assert serving["kv_cache_tokens"] == best["kv_cache_tokens"]
    fp16 = next(row for row in report["precisions"] if row["name"] == "fp16")
    column = fp16["gpus"][0]
    assert column["count"] == best["count"]  # the table's count is the planner's
    # the column carries the row's own plan and the engine's terms at it (the checkpoint is bf16: same plan)
    assert (column["kv_cache_tokens"], column["max_concurrency"], column["command"]) == (
        best["kv_cache_tokens"], best["max_concurrency"], best["command"])
    assert (column["total_bytes_per_gpu"], column["activation_bytes"], column["fits"]) == (
        serving["total_bytes_per_gpu"], serving["activation_bytes"], True)
    assert report["headline"] == ("meta-llama/Llama-3.1-70B at 16-bit: 2 x H100-80GB (tensor parallel 2) serve 1 sequence of "
                                  "8,192 tokens, with KV cache for 10,096 tokens (1.23 such sequences); at 4-bit, 1 x H100-80GB "
                                  "serves the same.")
    assert "vllm serve" not in report["headline"]  # the command is in the plan (the app's copy box, the CLI block)
    assert main(["meta-llama/Llama-3.1-70B", "--offline"]) == 0
    text = capsys.readouterr().out
    assert ("Best plan on H100-80GB for 1 sequence(s) of 8,192 tokens with vllm (the default target: min(8,192, the model's "
            "maximum) tokens on the first --gpu (H100-80GB); ask another with --context, --concurrency, --gpu, --engine):") in text
    assert best["command"] in text and "does not" not in text


def test_context_beyond_the_model_is_refused_with_the_override_named(capsys):
    assert_fails_cleanly(capsys, [str(LLAMA_8B), "--context", "200000"], "--allow-long-context")
    assert_fails_cleanly(capsys, [str(LLAMA_8B), "--engine", "vllm", "--tp", "1", "--max-model-len", "1000000"], "limit of 131,072 tokens")
    report = run_json(capsys, str(LLAMA_8B), "--context", "200000", "--allow-long-context", "--gpu", "H200")
    assert report["serving"]["max_model_len"] == 200000
    assert any("beyond the model's 131,072 positions" in note for note in report["serving"]["notes"])


PLAN_KEYS = ["model", "parameters", "engine", "context", "concurrency", "plans", "notes"]
PLAN_ROW_KEYS = ["gpu", "count", "tp", "pp", "nodes", "weights", "kv_cache_dtype", "kv_cache_tokens", "max_concurrency",
                 "max_context", "weights_bytes_per_gpu", "usd_per_hour", "command"]


def test_plan_json_contract_and_prices(capsys):
    out = run_json(capsys, "plan", "meta-llama/Llama-3.1-70B", "--offline", "--gpu", "H100", "--gpu", "A100",
                   "--context", "8192", "--price", "H100-80GB=1.5")
    assert list(out) == PLAN_KEYS and all(list(p) == PLAN_ROW_KEYS for p in out["plans"])
    assert (out["model"], out["parameters"], out["engine"], out["context"], out["concurrency"]) == (
        "meta-llama/Llama-3.1-70B", 70_553_706_496, "vllm", 8192, 1)
    best = out["plans"][0]
    # --price H100=1.5 beats the A100's catalog 2.736 $/h: 2 GPUs x 1.5 = 3.0 $/h.
    assert (best["gpu"], best["count"], best["tp"], best["usd_per_hour"]) == ("H100-80GB", 2, 2, 3.0)
    assert best["command"] == "vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 2 --max-model-len 8192"


def test_plan_weights_and_kv_choices_and_an_empty_answer(capsys):
    out = run_json(capsys, "plan", "meta-llama/Llama-3.1-70B", "--offline", "--gpu", "H100", "--weights", "auto", "fp8",
                   "--kv-cache-dtype", "auto", "fp8")
    assert {(p["weights"], p["kv_cache_dtype"]) for p in out["plans"]} == {("fp16", "auto"), ("fp16", "fp8"), ("fp8", "auto"), ("fp8", "fp8")}
    one_gpu = [p for p in out["plans"] if p["count"] == 1]
    assert one_gpu and all(p["weights"] == "fp8" for p in one_gpu) and "--quantization fp8" in one_gpu[0]["command"]
    empty = run_json(capsys, "plan", "meta-llama/Llama-3.1-405B", "--offline", "--gpu", "H100", "--max-gpus", "4")
    assert empty["plans"] == [] and "the weights alone" in empty["notes"][0]


def test_the_app_path_never_reads_local_files():
    from llmmem.errors import InputError
    from llmmem.report import estimate_request
    from llmmem.request import make_request

    with pytest.raises(InputError, match="local files are not read here"):
        estimate_request(make_request(model=str(LLAMA_8B)), allow_local_files=False)


def test_prefer_catalog_answers_a_catalog_model_without_the_hub():
    from llmmem.report import estimate_request
    from llmmem.request import make_request

    report = estimate_request(make_request(model="meta-llama/Llama-3.1-8B"), prefer_catalog=True, allow_local_files=False)
    assert (report.source, report.parameters) == ("catalog", 8_030_261_248)
    assert [note for note in report.notes if "rows' commands need a checkpoint" not in note] == []  # nothing about the Hub


def test_report_says_how_the_model_was_counted_and_its_parts(capsys):
    report = run_json(capsys, "Qwen/Qwen2.5-VL-7B-Instruct", "--offline")
    assert report["counted_by"] == "exact"
    assert report["count_label"] == "exact (llmmem family table, as transformers builds it)"
    # text + vision tower + projector add up to the whole count
    assert report["parts"] == {"text": 7_615_616_512, "vision": 631_975_680, "projector": 44_574_464}
    assert sum(report["parts"].values()) == report["parameters"] == 8_292_166_656
    towers = "vision tower (631,975,680) and projector (44,574,464) counted: vLLM loads them with the text model"
    assert towers in report["notes"]  # spec.notes: what the count includes or leaves out
    assert main(["Qwen/Qwen2.5-VL-7B-Instruct", "--offline"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == ("counted: exact (llmmem family table, as transformers builds it); parts: text 7,615,616,512 (7.62B), "
                        "vision 631,975,680 (631.98M), projector 44,574,464 (44.57M)")
    assert "note: " + towers in lines


def test_count_notes_name_mtp_layers_not_built(capsys):
    report = run_json(capsys, "deepseek-ai/DeepSeek-V3", "--offline", "--precisions", "fp8")
    assert report["parts"] == {"text": 671_026_404_352}
    assert any("1 multi-token-prediction layer (13,463,426,048 parameters)" in note for note in report["notes"])
    assert report["mtp"] == {"layers": 1, "parameters": 13_463_426_048}
    bare = run_json(capsys, "70B", "--precisions", "fp16")
    assert (bare["counted_by"], bare["count_label"], bare["parts"], bare["mtp"]) == ("given", "given", {"text": 70_000_000_000}, None)


def test_an_unknown_family_is_called_approximate_once(capsys, tmp_path):
    config = json.loads(LLAMA_8B.read_text())
    config.update(model_type="foollama", architectures=["FooForCausalLM"])
    (tmp_path / "config.json").write_text(json.dumps(config))
    report = run_json(capsys, str(tmp_path / "config.json"), "--precisions", "fp16")
    assert report["counted_by"] == "generic" and report["approximate"] is True
    assert sum(note.startswith("approximate") for note in report["notes"]) == 1


def test_max_model_len_alone_sets_the_target_and_caps_the_answer(capsys):
    report = run_json(capsys, "Llama-3.1-8B", "--offline", "--max-model-len", "4096", "--gpu", "H100-80GB")
    assert report["target"] == {"engine": "vllm", "gpu": "H100-80GB", "context": 4096, "concurrency": 1, "default": False}
    best = report["plan"]["plans"][0]
    assert best["command"] == "vllm serve meta-llama/Llama-3.1-8B --max-model-len 4096"
    assert (best["max_context"], best["kv_cache_tokens"], best["max_concurrency"]) == (4096, 443568, 108.29)
    assert report["serving"]["max_model_len"] == 4096 and report["serving"]["max_concurrency"] == 108.29
    assert_fails_cleanly(capsys, ["Llama-3.1-8B", "--offline", "--context", "8192", "--max-model-len", "4096"],
                         "max_model_len 4,096 is shorter than context 8,192")


def test_vllm_serving_terms_add_up_to_the_total_shown(capsys):
    report = run_json(capsys, "meta-llama/Llama-3.1-70B", "--offline")
    s = report["serving"]
    terms = ("weights_bytes_per_gpu", "kv_cache_bytes_per_gpu", "activation_bytes", "non_torch_bytes", "cuda_context_bytes")
    assert sum(s[k] for k in terms) == s["total_bytes_per_gpu"] == 77_073_733_386
    assert s["cuda_context_bytes"] == 547_608_330  # 0.51 GiB, created before vLLM's 0.9 budget is measured
    assert main(["meta-llama/Llama-3.1-70B", "--offline"]) == 0
    text = capsys.readouterr().out
    assert "  CUDA context                      0.55 GB  (outside the gpu_memory_utilization budget)\n" \
           "  total per GPU                    77.07 GB  of 85.03 GB: starts" in text
    assert "  KV cache holds 10,096 tokens: max concurrency 1.23 at 8,192 tokens, max context 10,096 tokens at 1 sequence(s)\n" in text
    assert f"\nanswer: {report['headline']}\n\nBest plan on H100-80GB" in text  # the one sentence, then the plan behind it


def test_rows_whose_commands_need_a_quantized_checkpoint_say_so(capsys):
    report = run_json(capsys, "Llama-3.1-8B", "--offline", "--precisions", "fp16,fp8,int8,int4", "--gpu", "H100")
    assert [r["gpus"][0]["command"].split("--quantization ")[-1] for r in report["precisions"][1:]] == ["fp8", "compressed-tensors", "gptq_marlin"]
    assert ("the int8 (w8a8), int4 (w4a16) rows' commands need a checkpoint stored in that format in place of the model named: "
            "vLLM quantizes 16-bit weights on load only to fp8 and bitsandbytes") in report["notes"]


def test_the_serving_block_is_the_plan_it_follows_for_a_hybrid(capsys):
    report = run_json(capsys, "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "--offline")
    best, serving = report["plan"]["plans"][0], report["serving"]
    assert best["command"].endswith("--max-num-seqs 804")
    assert serving["starts"] and serving["max_num_seqs"] == 804
    assert (serving["kv_cache_tokens"], serving["max_concurrency"]) == (best["kv_cache_tokens"], best["max_concurrency"]) == (350032, 104.62)
    column = report["precisions"][1]["gpus"][0]  # fp16 row on H100: the same plan and terms
    assert (column["command"], column["fits"], column["activation_bytes"]) == (best["command"], True, serving["activation_bytes"])


def test_an_encoder_report_says_it_keeps_no_kv_cache(capsys):
    report = run_json(capsys, "google-bert/bert-base-multilingual-cased", "--offline")
    assert report["serving"]["kv_cache_bytes_per_token"] == 0 and report["plan"]["plans"][0]["kv_cache_tokens"] == 0
    assert report["headline"] == ("google-bert/bert-base-multilingual-cased at 16-bit: 1 x H100-80GB serves 1 sequence of "
                                  "512 tokens, with no KV cache (encoder-only).")
    assert main(["google-bert/bert-base-multilingual-cased", "--offline"]) == 0
    text = capsys.readouterr().out
    assert "  no KV cache (encoder-only): max concurrency 1024 (the scheduler's cap), max context 512 tokens (the model's positions)\n" in text
    assert "KV cache holds" not in text


@pytest.mark.parametrize("argv", [["plan", "Llama-3.1-8B"], ["vllm", "serve", "Llama-3.1-8B"], ["Llama-3.1-8B"]])
def test_a_reader_that_leaves_early_gets_no_traceback(argv):
    # `python -m llmmem ... | head -3`: the pipe closes before llmmem writes
    process = subprocess.Popen([sys.executable, "-m", "llmmem", *argv, "--offline"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=Path(__file__).resolve().parents[1])
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0 and err == ""


def test_plan_and_vllm_serve_json_are_the_library_objects_byte_for_byte(capsys):
    from llmmem.report import plan_request
    from llmmem.request import make_request
    from llmmem.vllm_serve import check_vllm_serve

    request = make_request(model="meta-llama/Llama-3.1-70B", gpus=["H100-80GB", "L40S"], context="32768", concurrency="8", offline=True)
    library = json.dumps(plan_request(request).to_dict(), indent=2)
    assert main(["plan", "meta-llama/Llama-3.1-70B", "--gpu", "H100-80GB", "--gpu", "L40S", "--context", "32768",
                 "--concurrency", "8", "--offline", "--json"]) == 0
    assert capsys.readouterr().out == library + "\n"
    best = json.loads(library)["plans"][0]
    check = check_vllm_serve(best["command"], gpu=best["gpu"], offline=True)
    assert main(["vllm", "serve", *best["command"].split()[2:], "--gpu", best["gpu"], "--offline", "--json"]) == 0
    out = capsys.readouterr().out
    assert out == json.dumps(check.to_dict(), indent=2) + "\n"
    served = json.loads(out)
    assert served["starts"] and (served["kv_cache_tokens"], served["tp"], served["pp"]) == (best["kv_cache_tokens"], best["tp"], best["pp"])


def test_vllm_help_is_help(capsys):
    assert main(["vllm", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: python -m llmmem vllm serve MODEL [vLLM flags]")


def test_a_hybrid_says_how_vllm_counts_its_kv_tokens(capsys):
    report = run_json(capsys, "ai21labs/AI21-Jamba-1.5-Mini", "--offline", "--precisions", "fp16")
    s = report["serving"]
    # vLLM logs blocks // groups x block size as "tokens", while one 8,192-token sequence takes
    # ceil(8192 / 80) attention blocks plus one block in each of the 7 state groups
    assert (s["kv_cache_block_size"], s["kv_cache_groups"]) == (80, {"mamba_state": 7, "full_attention": 1})
    assert s["kv_cache_tokens"] == s["num_blocks"] // 8 * 80 == 319280
    assert s["max_concurrency"] == round(s["num_blocks"] / (8192 // 80 + 1 + 7), 2) == 290.26
    assert main(["ai21labs/AI21-Jamba-1.5-Mini", "--offline", "--precisions", "fp16"]) == 0
    assert ("the tokens it holds are blocks / 8 groups x 80, as vLLM logs them, while each sequence takes blocks in every group"
            in capsys.readouterr().out)


def test_a_best_plan_that_needs_another_checkpoint_says_so_in_the_report(capsys):
    report = run_json(capsys, "Llama-3.1-8B", "--offline", "--weights", "awq", "--precisions", "fp16", "--gpu", "L4")
    assert report["plan"]["plans"][0]["command"] == "vllm serve meta-llama/Llama-3.1-8B --max-model-len 8192 --quantization awq"
    assert ("weights awq: replace meta-llama/Llama-3.1-8B in the command by a checkpoint stored in awq: vLLM quantizes 16-bit "
            "weights on load only to fp8 and bitsandbytes") in report["notes"]


@pytest.mark.parametrize("flags, named", [(["--concurrency", "4"], "--concurrency"), (["--weights", "awq"], "--weights"),
                                          (["--kv-cache-dtype", "fp8"], "--kv-cache-dtype"), (["--max-num-seqs", "8"], "--max-num-seqs")])
def test_a_bare_count_refuses_serving_flags_by_name(capsys, flags, named):
    assert_fails_cleanly(capsys, ["70B", *flags], f"'70B' is only a parameter count: {named} asks for a serving estimate")


def test_transformers_plans_are_one_gpu_and_launch_with_from_pretrained(capsys):
    report = run_json(capsys, "Llama-3.1-8B", "--offline", "--engine", "transformers", "--precisions", "fp16", "--gpu", "H100")
    best = report["plan"]["plans"][0]
    assert best["command"] == 'AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.1-8B", dtype="auto", device_map="cuda")'
    assert (best["count"], best["tp"], best["pp"]) == (1, 1, 1)
    s = report["serving"]
    assert s["engine"] == "transformers"
    assert s["non_torch_bytes"] == s["cuda_context_bytes"] == 547_608_330  # its runtime term is the CUDA context itself
    assert main(["Llama-3.1-8B", "--offline", "--engine", "transformers", "--precisions", "fp16"]) == 0
    text = capsys.readouterr().out
    assert "vllm serve" not in text and "CUDA context" not in text  # transformers' runtime term is the CUDA context
    plan = run_json(capsys, "plan", "Llama-3.1-70B", "--offline", "--engine", "transformers", "--gpu", "H100")
    assert plan["plans"] == [] and plan["notes"][-1] == (
        "nothing serves the target within 1 GPU: the weights alone (141.1 GB) exceed what 1 x H100-80GB hold; "
        "use --engine vllm to split it over several GPUs")


def test_the_table_says_whose_training_figure_it_shows_and_the_measured_one(capsys):
    report = run_json(capsys, "Llama-3.1-8B", "--offline")
    # training.py's default recipe: full 16-bit fine-tuning, AdamW, batch 1 x 2,048 tokens, no checkpointing
    assert report["training"] == {"recipe": "full", "optimizer": "adamw", "batch": 1, "seq_len": 2048, "checkpointing": False,
                                  "peak_bytes": 80_403_275_776, "accelerate_training_bytes": 64_242_089_984}
    assert next(r for r in report["precisions"] if r["name"] == "fp16")["training_adam_bytes"] == 64_242_089_984 == 8 * 8_030_261_248
    assert main(["Llama-3.1-8B", "--offline"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "training (Adam): accelerate's figure, weights + gradients + two Adam states at the row's precision" in lines
    assert ("fine-tuning as transformers runs it (full 16-bit, adamw, batch 1 x 2,048 tokens, no checkpointing): 80.40 GB peak "
            "in one process; `python -m llmmem train MODEL` for other recipes and shards") in lines
    assert lines[9].startswith("plan: GPUs the planner needs")  # the legend right under the table
    assert run_json(capsys, "70B")["training"] is None


def test_headlines_of_inverse_questions_multi_node_plans_and_other_engines(capsys):
    def headline(*argv):
        return run_json(capsys, *argv, "--offline")["headline"]

    assert headline("deepseek-ai/DeepSeek-V3") == (
        "deepseek-ai/DeepSeek-V3 at fp8-block: 16 x H100-80GB (tensor parallel 8 x pipeline parallel 2, 2 nodes of 8) serve "
        "1 sequence of 8,192 tokens, with KV cache for 756,080 tokens (92.29 such sequences); at 4-bit, 6 x H100-80GB serve the same.")
    assert headline("Llama-3.1-70B", "--context", "max") == (
        "meta-llama/Llama-3.1-70B at 16-bit: 2 x H100-80GB (pipeline parallel 2) serve 1 sequence of the longest context that "
        "fits, with KV cache for 23,024 tokens: the longest context is 23,024 tokens.")
    assert headline("Llama-3.1-8B", "--concurrency", "max", "--gpu", "L4") == (
        "meta-llama/Llama-3.1-8B at 16-bit: 1 x L4-24GB serves as many 8,192-token sequences as fit, with KV cache for "
        "32,944 tokens (4.02 such sequences).")
    assert headline("Llama-3.1-70B", "--engine", "transformers") == (
        "meta-llama/Llama-3.1-70B with transformers on H100-80GB, 1 sequence of 8,192 tokens: nothing serves the target within "
        "1 GPU: the weights alone (141.1 GB) exceed what 1 x H100-80GB hold; use --engine vllm to split it over several GPUs")

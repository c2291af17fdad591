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
    # 168e9 bytes on two "80 GB" A100s: each really holds ~85.0e9 bytes, so two suffice.
    assert fp16["gpus"] == [{"gpu": "A100-80GB", "count": 2, "tp_count": 2, "nodes": 1}]


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
            assert {"gpu", "count", "tp_count"} <= set(count)
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
    # 405.85e9 x 2.4 = 974.0e9 bytes over 85.03e9 per H100: 12 GPUs, so two nodes of 8 with TP 8 each.
    assert count == {"gpu": "H100-80GB", "count": 12, "tp_count": 16, "nodes": 2}


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
        (["70B", "--tp", "0"], "must be 1 or more"),
        (["70B", "--engine", "vllm"], "only a parameter count"),
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
    report = run_json(capsys, str(LLAMA_8B), "--gpu", "H100-80GB", "--context", "8192", "--batch", "4")
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
    assert "serving_total_bytes" not in report["precisions"][0]

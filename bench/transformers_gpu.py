"""Measure what transformers really allocates for catalog configs, on a GPU.

Evidence for docs/ACCURACY.md, not part of the package: it needs torch and transformers,
which llmmem does not depend on, and no test imports it.

For each config it builds the causal-LM with RANDOM weights in bfloat16 straight on the device,
then runs one prefill forward (batch 1, `--tokens` random ids, use_cache=True) and records:
  parameters_allocated     sum of numel over unique parameters
  weights_bytes_measured   memory_allocated() after building minus before (parameters + buffers)
  peak_forward_bytes       max_memory_allocated() during the forward minus allocated before it
  kv_cache_bytes_measured  nbytes of the key/value tensors in the returned cache
                           (sliding-window layers hold what transformers keeps, not the full context)
A config that fails writes its error into the row and the script goes on.

Run on the GPU machine (one row flushed per config, so a timeout still leaves results):
  PYTHONUNBUFFERED=1 python3 bench/transformers_gpu.py --out OUTDIR --tokens 2048
Check every code path on a CPU first (small configs, few tokens):
  python3 bench/transformers_gpu.py --device cpu --tokens 16 --out /tmp/o --configs gpt2 opt-125m
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import sys
import time
import traceback
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent.parent / "llmmem" / "catalog" / "configs"

# NOTE: smallest first (counts from tests/fixtures/param_counts.tsv), so the big ones come last and a
# timeout loses only those. Everything up to Mixtral fits an H200 in bf16 with room for the forward.
DEFAULT_CONFIGS = [
    "openai-community__gpt2",
    "facebook__opt-125m",
    "openai-community__gpt2-medium",
    "Qwen__Qwen2.5-0.5B",
    "Qwen__Qwen3-0.6B",
    "google__gemma-3-1b-it",
    "meta-llama__Llama-3.2-1B-Instruct",
    "Qwen__Qwen2.5-1.5B",
    "google__gemma-2b",
    "google__gemma-2-2b-it",
    "microsoft__phi-2",
    "meta-llama__Llama-3.2-3B",
    "microsoft__Phi-3-mini-4k-instruct",
    "Qwen__Qwen3-4B",
    "meta-llama__Llama-2-7b-hf",
    "tiiuae__falcon-7b",
    "mistralai__Mistral-7B-v0.1",
    "mistralai__Mistral-7B-v0.3",
    "Qwen__Qwen2.5-7B",
    "meta-llama__Llama-3.1-8B",
    "Qwen__Qwen3-8B",
    "google__gemma-7b",
    "google__gemma-2-9b",
    "microsoft__phi-4",
    "Qwen__Qwen2.5-14B",
    "deepseek-ai__DeepSeek-V2-Lite",
    "openai__gpt-oss-20b",
    "Qwen__Qwen3-30B-A3B",
    "Qwen__Qwen3-32B",
    "mistralai__Mixtral-8x7B-v0.1",
]

COLUMNS = [
    "config", "dtype", "parameters_allocated", "weights_bytes_measured", "tokens", "batch",
    "peak_forward_bytes", "kv_cache_bytes_measured", "total_memory_bytes", "mem_get_info_total_bytes",
    "attn_implementation", "torch_version", "transformers_version", "seconds", "error",
]


def find_config(name: str) -> Path:
    exact = CONFIG_DIR / (name if name.endswith(".json") else name + ".json")
    if exact.exists():
        return exact
    matches = sorted(p for p in CONFIG_DIR.glob("*.json") if p.stem.lower().endswith(name.lower()))
    if len(matches) != 1:
        raise SystemExit(f"config {name!r} matches {len(matches)} files in {CONFIG_DIR}; give the full name")
    return matches[0]


def load_config(path: Path, max_layers: int | None, log):
    from transformers import AutoConfig

    raw = json.loads(path.read_text())
    if "quantization_config" in raw:
        # NOTE: we measure the bf16 model; the quantized checkpoint format is a separate question.
        log(f"  note: dropped quantization_config {raw['quantization_config'].get('quant_method')!r}: measuring bf16")
        raw.pop("quantization_config")
    raw.pop("auto_map", None)  # every family here is native to transformers 5; never run remote code
    if max_layers is not None:  # CPU smoke tests only: same code paths, far less memory
        for key in ("num_hidden_layers", "n_layer", "num_layers"):
            if key in raw:
                raw[key] = min(raw[key], max_layers)
                raw["num_hidden_layers"] = raw[key]  # NOTE: falcon ignores n_layer next to its default
        if isinstance(raw.get("layer_types"), list):
            raw["layer_types"] = raw["layer_types"][:max_layers]
    model_type = raw.pop("model_type")
    return AutoConfig.for_model(model_type, **raw)


def context_limit(cfg) -> int | None:
    for key in ("n_positions", "max_position_embeddings"):
        value = getattr(cfg, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def cache_tensors(cache):
    """Yield (kind, tensor) for every key/value tensor a transformers cache object holds."""
    import torch

    if cache is None:
        return
    if isinstance(cache, torch.Tensor):
        yield "tensor", cache
        return
    if isinstance(cache, (tuple, list)):  # legacy tuple-of-tuples format
        for item in cache:
            yield from cache_tensors(item)
        return
    if hasattr(cache, "self_attention_cache"):  # EncoderDecoderCache
        yield from cache_tensors(cache.self_attention_cache)
        yield from cache_tensors(getattr(cache, "cross_attention_cache", None))
        return
    layers = getattr(cache, "layers", None)
    if layers is not None:  # transformers >= 4.56 / 5: Cache.layers[i].keys / .values
        for layer in layers:
            for kind in ("keys", "values"):
                tensor = getattr(layer, kind, None)
                if isinstance(tensor, torch.Tensor):
                    yield kind, tensor
        return
    for kind, attr in (("keys", "key_cache"), ("values", "value_cache")):
        for tensor in getattr(cache, attr, None) or []:
            if isinstance(tensor, torch.Tensor):
                yield kind, tensor


def describe_cache(cache) -> tuple[int, str]:
    total = 0
    shapes: dict[str, int] = {}
    for kind, tensor in cache_tensors(cache):
        total += tensor.numel() * tensor.element_size()
        label = f"{kind}{tuple(tensor.shape)}:{str(tensor.dtype).replace('torch.', '')}"
        shapes[label] = shapes.get(label, 0) + 1
    return total, "; ".join(f"{n}x {label}" for label, n in shapes.items())


def build_model(cfg, device, dtype, init: str):
    import torch
    from transformers import AutoModelForCausalLM

    if init == "meta":
        # NOTE: faster for huge models on a slow host, but non-persistent buffers (rotary inv_freq)
        # are left uninitialised; memory is the same, the numbers computed are not meaningful.
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
        model.to_empty(device=device)
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(std=0.02)
        return model
    with torch.device(device):
        return AutoModelForCausalLM.from_config(cfg, dtype=dtype)


def measure(path: Path, args, device, dtype, log) -> dict:
    import torch

    on_cuda = device.type == "cuda"
    allocated = (lambda: torch.cuda.memory_allocated(device)) if on_cuda else (lambda: 0)
    row: dict = {"config": path.stem, "dtype": str(dtype).replace("torch.", ""), "batch": args.batch}

    cfg = load_config(path, args.max_layers, log)
    tokens = args.tokens
    limit = context_limit(cfg)
    if limit is not None and tokens > limit:
        log(f"  note: tokens capped at the model's context {limit} (asked {tokens})")
        tokens = limit
    row["tokens"] = tokens

    before_build = allocated()
    t0 = time.perf_counter()
    model = build_model(cfg, device, dtype, args.init)
    model.eval()
    if on_cuda:
        torch.cuda.synchronize(device)
    build_s = time.perf_counter() - t0
    row["parameters_allocated"] = sum(p.numel() for p in model.parameters())  # parameters() dedups tied ones
    row["weights_bytes_measured"] = allocated() - before_build
    param_dtypes = sorted({str(p.dtype).replace("torch.", "") for p in model.parameters()})
    buffer_bytes = sum(b.numel() * b.element_size() for b in model.buffers())
    row["attn_implementation"] = getattr(model.config, "_attn_implementation", None) or ""
    log(f"  built in {build_s:.1f} s: {row['parameters_allocated']:,} parameters {param_dtypes}, "
        f"{row['weights_bytes_measured']:,} bytes allocated ({buffer_bytes:,} in buffers), "
        f"attn={row['attn_implementation']}")

    vocab = getattr(cfg, "vocab_size", None) or model.get_input_embeddings().num_embeddings
    input_ids = torch.randint(0, vocab, (args.batch, tokens), device=device)
    if on_cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    before_forward = allocated()
    t1 = time.perf_counter()
    with torch.inference_mode():
        out = model(input_ids=input_ids, use_cache=True)
    if on_cuda:
        torch.cuda.synchronize(device)
        row["peak_forward_bytes"] = torch.cuda.max_memory_allocated(device) - before_forward
    forward_s = time.perf_counter() - t1
    # NOTE: later transformers 5 releases rename the output field `past_key_values` to `cache`
    cache = getattr(out, "cache", None)
    if cache is None:
        cache = getattr(out, "past_key_values", None)
    kv_bytes, kv_shapes = describe_cache(cache)
    row["kv_cache_bytes_measured"] = kv_bytes
    logits = out.logits
    log(f"  forward in {forward_s:.2f} s: peak {row.get('peak_forward_bytes', '')} bytes over allocated, "
        f"logits {tuple(logits.shape)} {str(logits.dtype).replace('torch.', '')} "
        f"({logits.numel() * logits.element_size():,} bytes), cache {type(cache).__name__}: "
        f"{kv_bytes:,} bytes = {kv_shapes}")
    del out, logits, cache, input_ids, model
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for transformers_h200.csv and .log")
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--configs", nargs="*", help="config stems (suffix match); default: the built-in list")
    parser.add_argument("--init", choices=("direct", "meta"), default="direct",
                        help="direct: build and init on the device (default); meta: to_empty + normal_")
    parser.add_argument("--max-layers", type=int, help="truncate layers (CPU smoke tests only)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="skip configs not started within this many seconds of launch")
    parser.add_argument("--name", default="transformers_h200")
    args = parser.parse_args()

    started = time.perf_counter()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(out_dir / f"{args.name}.log", "w", buffering=1)

    def log(message: str) -> None:
        print(message, flush=True)
        log_file.write(message + "\n")

    import torch
    import transformers

    device = torch.device(args.device)
    dtype = torch.bfloat16
    common = {"torch_version": torch.__version__, "transformers_version": transformers.__version__}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        common["total_memory_bytes"] = props.total_memory
        common["mem_get_info_total_bytes"] = torch.cuda.mem_get_info(device)[1]
        log(f"device {props.name}: total_memory {props.total_memory:,} bytes "
            f"({props.total_memory / 2**30:.2f} GiB), mem_get_info free/total "
            f"{torch.cuda.mem_get_info(device)}")
    log(f"python {sys.version.split()[0]}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"tokens {args.tokens}, batch {args.batch}, init {args.init}, "
        f"max_layers {args.max_layers} ({time.perf_counter() - started:.1f} s after launch)")

    paths = [find_config(name) for name in (args.configs or DEFAULT_CONFIGS)]
    with open(out_dir / f"{args.name}.csv", "w", newline="", buffering=1) as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        handle.flush()
        for path in paths:
            row = {"config": path.stem, "dtype": "bfloat16", **common}
            elapsed = time.perf_counter() - started
            if args.budget_s is not None and elapsed > args.budget_s:
                row["error"] = f"skipped: {elapsed:.0f} s elapsed, over the {args.budget_s:.0f} s budget"
                log(f"{path.stem}: {row['error']}")
                writer.writerow(row)
                continue
            log(f"{path.stem} ({elapsed:.0f} s after launch)")
            t0 = time.perf_counter()
            try:
                row.update(measure(path, args, device, dtype, log))
            except Exception as exc:  # noqa: BLE001 - one bad config must not stop the others
                row["error"] = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]
                log(f"  ERROR {row['error']}")
                log_file.write(traceback.format_exc())
            row["seconds"] = f"{time.perf_counter() - t0:.2f}"
            writer.writerow(row)
            handle.flush()
            os.fsync(handle.fileno())
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
                log(f"  done in {row['seconds']} s; allocated after cleanup {torch.cuda.memory_allocated(device):,}")
    log(f"all done in {time.perf_counter() - started:.1f} s")
    log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

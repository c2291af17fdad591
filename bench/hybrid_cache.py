"""Print what the cache of hybrid, windowed and sparse-attention models costs, and what vLLM 0.19 would
report for them on H100s (predictions, not measurements; asserts nothing).

    python bench/hybrid_cache.py [--max-model-len N] [--gpu H100-80GB]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmmem.architectures import spec_from_config  # noqa: E402
from llmmem.engines import estimate_serving  # noqa: E402
from llmmem.errors import LlmmemError  # noqa: E402
from llmmem.gpus import get_gpu  # noqa: E402
from llmmem.serving import ServingOptions  # noqa: E402

MODELS = [  # (config, tensor-parallel size that holds the bf16 weights on 80 GB cards)
    ("tests/fixtures/configs_new/Qwen__Qwen3-Next-80B-A3B-Thinking.json", 4),
    ("tests/fixtures/configs_new/nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json", 1),
    ("tests/fixtures/configs_new/ai21labs__AI21-Jamba-1.5-Mini.json", 2),
    ("tests/fixtures/configs_new/mistralai__Mamba-Codestral-7B-v0.1.json", 1),
    ("tests/fixtures/configs_new/Qwen__Qwen3.5-27B.json", 1),
    ("tests/fixtures/configs_new/google__gemma-3-4b-it.json", 1),
    ("tests/fixtures/configs_new/meta-llama__Llama-4-Scout-17B-16E-Instruct.json", 4),
    ("tests/fixtures/configs_new/deepseek-ai__DeepSeek-V3.2-Exp.json", 8),
    ("llmmem/catalog/configs/openai__gpt-oss-120b.json", 1),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-model-len", type=int, default=32768)
    parser.add_argument("--gpu", default="H100-80GB")
    args = parser.parse_args()
    gpu = get_gpu(args.gpu)
    print(f"vLLM 0.19 defaults on {gpu.name}, gpu_memory_utilization 0.9, max_model_len {args.max_model_len:,}")
    print(f"{'model':<38}{'tp':>3}{'KV B/token/GPU':>16}{'state B/seq/GPU':>17}{'block':>7}{'groups':>8}"
          f"{'weights GiB':>12}{'KV GiB':>8}{'tokens':>11}{'concurrency':>13}  starts")
    for path, tp in MODELS:
        config = json.loads((ROOT / path).read_text())
        spec = spec_from_config(config, name=Path(path).stem)
        try:
            out = estimate_serving(spec, ServingOptions(gpu=gpu, engine="vllm", tp=tp, max_model_len=args.max_model_len))
        except LlmmemError as error:
            print(f"{spec.name[:37]:<38}{tp:>3}  {error}")
            continue
        groups = sum(out.kv_cache_groups.values())
        print(
            f"{spec.name[:37]:<38}{tp:>3}{out.kv_cache_bytes_per_token:>16,}{out.state_bytes_per_sequence:>17,}"
            f"{out.kv_cache_block_size:>7}{groups:>8}{out.weights_bytes_per_gpu / 2**30:>12.2f}"
            f"{out.kv_cache_bytes_per_gpu / 2**30:>8.2f}{out.kv_cache_tokens:>11,}{out.max_concurrency:>13}"
            f"  {'yes' if out.starts else 'no: ' + out.failure['check']}"
        )


if __name__ == "__main__":
    main()

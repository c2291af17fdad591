"""How fast llmmem answers: the full report and the planner in process, and whole CLI processes.

Targets: a full `plan` search for a 70B model over the whole GPU catalog under 0.5 s in process
(issue 8); the whole CLI process under 0.5 s (issue 2). Prints tables; asserts nothing.
Run: python bench/speed.py [--repeat N] [--process-runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmmem.architectures import spec_from_config  # noqa: E402
from llmmem.gpus import GPUS  # noqa: E402
from llmmem.planner import plan  # noqa: E402
from llmmem.report import estimate_request  # noqa: E402
from llmmem.request import make_request  # noqa: E402
from llmmem.vllm_serve import check_vllm_serve  # noqa: E402

CONFIGS = ROOT / "llmmem" / "catalog" / "configs"
SEARCH_MODELS = ("meta-llama__Llama-3.1-70B", "Qwen__Qwen2.5-72B", "meta-llama__Llama-3.1-405B", "deepseek-ai__DeepSeek-V3")


def median_seconds(call, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def time_process(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "llmmem", *argv], cwd=ROOT, capture_output=True, text=True)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{argv}: {done.stderr.strip()}")
        json.loads(done.stdout)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20, help="in-process repetitions")
    parser.add_argument("--process-runs", type=int, default=3, help="CLI processes per command")
    parser.add_argument("--all-configs", action="store_true", help="time the report for every catalog config")
    args = parser.parse_args()

    print(f"plan search over the whole catalog ({len(GPUS)} GPU types, up to 64 GPUs, vLLM engine), median of {args.repeat}:")
    print(f"{'model':32} {'8192 x 1 (s)':>13} {'8192 x 64 (s)':>14} {'context=max (s)':>16} {'plans':>6}")
    for name in SEARCH_MODELS:
        spec = spec_from_config(json.loads((CONFIGS / f"{name}.json").read_text()), name=name)
        one = median_seconds(lambda: plan(spec, context=8192), args.repeat)
        many = median_seconds(lambda: plan(spec, context=8192, concurrency=64), args.repeat)
        longest = median_seconds(lambda: plan(spec, context="max"), max(1, args.repeat // 4))
        print(f"{name:32} {one:13.3f} {many:14.3f} {longest:16.3f} {len(plan(spec, context=8192).plans):6d}")

    configs = sorted(CONFIGS.glob("*.json")) if args.all_configs else [CONFIGS / f"{SEARCH_MODELS[0]}.json", CONFIGS / "meta-llama__Llama-3.1-8B.json"]
    print(f"\n{'report (table + plans + serving)':45} {'in process (ms)':>16}")
    worst = 0.0
    for path in configs:
        request = make_request(model=str(path))
        call = median_seconds(lambda: estimate_request(request), args.repeat)
        worst = max(worst, call)
        print(f"{path.stem:45} {call * 1e3:16.1f}")
    check = median_seconds(lambda: check_vllm_serve(f"vllm serve {CONFIGS / 'meta-llama__Llama-3.1-70B.json'} -tp 2"), args.repeat)
    print(f"{'vllm serve check, 70B tp 2 (fails, with fixes)':45} {check * 1e3:16.1f}")

    print(f"\n{'CLI process':60} {'median (s)':>10}")
    llama70 = str(CONFIGS / "meta-llama__Llama-3.1-70B.json")
    for argv in ([llama70, "--json"], ["plan", llama70, "--json"], ["vllm", "serve", llama70, "-tp", "2", "--json"]):
        print(f"{'python -m llmmem ' + ' '.join(a if a != llama70 else 'Llama-3.1-70B.json' for a in argv):60} {time_process(argv, args.process_runs):10.3f}")
    print(f"\nworst report in process: {worst * 1e3:.1f} ms")


if __name__ == "__main__":
    main()

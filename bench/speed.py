"""How fast an estimate is: the library call in process, and the whole `python -m llmmem CONFIG --json`.

Targets (issue 2): under 1 ms per estimate in process; the whole CLI process under 0.5 s.
Prints a table; asserts nothing. Run: python bench/speed.py [--repeat N] [--process-runs N]
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
from llmmem.report import build_report  # noqa: E402
from llmmem.resolve import Resolved  # noqa: E402

CONFIGS = ROOT / "llmmem" / "catalog" / "configs"


def time_in_process(config: dict, repeat: int) -> float:
    """Median seconds for config dict -> ModelSpec -> full report (4 precisions x 2 GPUs)."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        build_report(Resolved(spec_from_config(config), "config"))
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def time_process(path: Path, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "llmmem", str(path), "--json"], cwd=ROOT, capture_output=True, text=True)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{path.name}: {done.stderr.strip()}")
        json.loads(done.stdout)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200, help="in-process repetitions per config")
    parser.add_argument("--process-runs", type=int, default=3, help="CLI processes per config")
    args = parser.parse_args()
    print(f"{'config':45} {'in process (ms)':>16} {'CLI process (s)':>16}")
    worst_call, worst_process = 0.0, 0.0
    for path in sorted(CONFIGS.glob("*.json")):
        call = time_in_process(json.loads(path.read_text()), args.repeat)
        process = time_process(path, args.process_runs)
        worst_call, worst_process = max(worst_call, call), max(worst_process, process)
        print(f"{path.stem:45} {call * 1e3:16.3f} {process:16.3f}")
    print(f"\nworst median in process: {worst_call * 1e3:.3f} ms (target < 1 ms)")
    print(f"worst median CLI process: {worst_process:.3f} s (target < 0.5 s)")


if __name__ == "__main__":
    main()

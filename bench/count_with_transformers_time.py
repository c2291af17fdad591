"""What the optional transformers path costs: wall time and the child's peak memory per count (prints; asserts nothing).

    PYTHONPATH=SITE_PACKAGES_WITH_TORCH python bench/count_with_transformers_time.py

Each count runs `python -m llmmem.count_with_transformers` in a fresh child process (torch and transformers
imported there, never in the caller), so every call pays the cold import. Configs: tests/fixtures/configs_new
files of families llmmem counts in its own table too, so the two counts can be compared.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmmem import count_with_transformers as ct  # noqa: E402
from llmmem.architectures import spec_from_config  # noqa: E402

CONFIGS = ("Qwen__Qwen3-8B.json", "mistralai__Mamba-Codestral-7B-v0.1.json", "deepseek-ai__DeepSeek-V3.2-Exp.json")


def main() -> int:
    if not ct.available():
        print("torch and transformers are not importable here: pip install 'llmmem[transformers]' (or set PYTHONPATH to a venv that has them)")
        return 0
    print(f"{'config':<45} {'seconds':>8} {'child peak RSS MiB':>19} {'transformers':>18} {'llmmem table':>18}")
    for name in CONFIGS:
        config = json.loads((ROOT / "tests" / "fixtures" / "configs_new" / name).read_text())
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        counted = ct.count(config)
        seconds = time.perf_counter() - start
        peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024  # ru_maxrss is KiB on Linux
        exact = spec_from_config(config, use_transformers=False).parameters
        print(f"{name:<45} {seconds:>8.1f} {peak:>19.0f} {counted.parameters:>18,} {exact:>18,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

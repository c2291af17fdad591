"""Hostile inputs: how long each takes to be refused, and how far this process's memory rises meanwhile.

    python bench/hostile.py            # prints one table; about 15 s
    python bench/hostile.py --old      # also times the old backtracking count regex (seconds more)

The fake Hub (tests/fakehub.py) runs on 127.0.0.1 with a 1 s step timeout and a 3 s deadline; the library
defaults are hub.DEFAULT_TIMEOUT_S and hub.DEADLINE_S. Nothing here reaches the internet.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from llmmem import catalog, hub  # noqa: E402
from llmmem.errors import LlmmemError  # noqa: E402
from llmmem.resolve import parse_parameter_count, resolve  # noqa: E402

import fakehub  # noqa: E402

# The count regex before issue 11 (three adjacent \s* around an optional group: cubic backtracking).
OLD_COUNT = re.compile(r"^\s*(?P<number>[0-9][0-9,_]*(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*(?P<scale>[a-z]*)\s*(?:param(?:eter)?s?)?\s*$", re.I)


def rss(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def measure(action) -> tuple[float, int, str]:
    """(seconds, peak RSS growth in bytes, outcome) of one call."""
    before = rss()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark (Linux)
    except OSError:
        pass
    started = time.perf_counter()
    try:
        outcome = f"ok: {action()}"
    except LlmmemError as error:
        outcome = f"{type(error).__name__}: {error}"
    seconds = time.perf_counter() - started
    return seconds, max(0, rss("VmHWM") - before), outcome


def row(label: str, action) -> None:
    seconds, growth, outcome = measure(action)
    print(f"{label:<44} {seconds:8.3f} s {growth / 2**20:8.1f} MiB  {outcome[:90]}")


def main() -> None:
    print(f"{'input':<44} {'time':>10} {'RSS growth':>12}  outcome")
    bomb = "1" + " " * 2400 + "!"
    if "--old" in sys.argv:
        for spaces in (300, 600):
            text = "1" + " " * spaces + "!"
            row(f"old count regex, '1'+{spaces} spaces+'!'", lambda text=text: OLD_COUNT.match(text))
    row("count parser, '1'+2400 spaces+'!'", lambda: parse_parameter_count(bomb))
    row("count parser, '1'+100,000 spaces+'!'", lambda: parse_parameter_count("1" + " " * 100_000 + "!"))
    for text in ("/etc/passwd", "/nope/x.json", "/root", "~/.cache/huggingface/token", "/proc/self/fd/0", "/dev/zero", "~x"):
        row(f"app (no local files): {text}", lambda text=text: resolve(text, allow_local_files=False).source)
    read_end, write_end = os.pipe()
    row("CLI (local files): /proc/self/fd/<pipe>", lambda: resolve(f"/proc/self/fd/{read_end}").source)
    os.close(read_end), os.close(write_end)
    row("CLI (local files): /dev/zero", lambda: resolve("/dev/zero").source)
    with tempfile.TemporaryDirectory() as folder:
        huge = Path(folder) / "config.json"
        with open(huge, "wb") as sparse:
            sparse.truncate(3 * 10**9)
        row("CLI (local files): 3 GB config.json", lambda: resolve(str(huge)).source)
    hostile_hub()


def hostile_hub() -> None:
    import pytest

    llama = catalog.load_config(catalog.find("meta-llama/Llama-3.1-8B"))
    mixtral = catalog.load_config(catalog.find("mistralai/Mixtral-8x7B-v0.1"))
    patch = pytest.MonkeyPatch()
    import huggingface_hub.hf_api  # noqa: F401 - imported before the clock, so its ~15 MiB is not counted
    with tempfile.TemporaryDirectory() as home, fakehub.fake_hub_session(patch, Path(home)) as fake:
        fakehub._gzip_of_spaces(fake.huge_bytes)
        for fault in ("api-trickle", "config-trickle", "config-trickle-headers", "config-huge", "config-huge-unsized",
                      "config-gzip-bomb", "api-huge", "config-redirect-loop", "config-redirect-many"):
            name = f"acme/{fault}"
            fake.add(name, llama, safetensors={"BF16": 8_030_261_248}, fault=fault)
            sent = fake.sent_bytes
            row(f"Hub {fault}", lambda name=name: resolve(name, allow_local_files=False).source)
            if fake.sent_bytes != sent:
                print(f"{'':<44} {'':>10} {'':>12}  (the fake Hub got {fake.sent_bytes - sent:,} bytes of its answer out)")
        for index, (field, value) in enumerate(fakehub.ABSURD_VALUES[:6]):
            name = f"acme/absurd-{index}"
            fake.add(name, fakehub.absurd_config(mixtral if "experts" in field else llama, field, value), safetensors={"BF16": 1})
            row(f"Hub config {field}={json.dumps(value)[:16]}", lambda name=name: resolve(name, allow_local_files=False).source)
    patch.undo()
    print(f"library defaults: {hub.DEFAULT_TIMEOUT_S:g} s per step, {hub.DEADLINE_S:g} s per resolution, "
          f"model info <= {hub.MAX_INFO_BYTES:,} B, config.json <= {hub.MAX_CONFIG_BYTES:,} B, cache <= {hub.MAX_CACHE_BYTES:,} B")


if __name__ == "__main__":
    main()

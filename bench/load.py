"""Load test of the app's /estimate API on 127.0.0.1: a burst of concurrent calls, then a sustained run.

    python bench/load.py [--burst 100] [--calls 2000] [--threads 16] [--timeout 600]

Starts `python app.py` on a free 127.0.0.1 port (offline, analytics off), then:
1. a burst: --burst threads released together, one /estimate call each (all in flight at once);
2. a sustained run: --calls calls from --threads threads, back to back, over a mix of catalog models,
   raw counts and settings;
and prints the latency p50 / p95 / p99 / max of each, the errors (a wrong answer counts as one), and the
server's resident memory (VmRSS) after warm-up and after every call. Figures, not assertions. The calls
use gradio's plain HTTP API (POST, then read the event stream), the lightest client, so the figures show
the app's own cost; every parameter is sent, with the defaults the server itself publishes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 500  # sustained calls between two samples of the server's memory
# (settings, expected parameters): every answer is checked, so a wrong result counts as an error.
REQUESTS = [
    ({"model": "meta-llama/Llama-3.1-8B"}, 8_030_261_248),
    ({"model": "Qwen/Qwen3-30B-A3B", "engine": "vllm"}, 30_532_122_624),
    ({"model": "70B", "gpus": "A100-80GB"}, 70_000_000_000),
    ({"model": "meta-llama/Llama-3.1-70B", "context": "32768", "concurrency": "8"}, 70_553_706_496),
    ({"model": "deepseek-ai/DeepSeek-V3"}, None),
    ({"model": "7e9", "precisions": "fp16,int4"}, 7_000_000_000),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_app(port: int, timeout_s: float) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_SERVER_NAME": "127.0.0.1"}
    env.pop("HF_TOKEN", None)
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"app.py exited early: {process.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"app.py did not answer on port {port} within {timeout_s} s")


def api_defaults(url: str) -> list[tuple[str, object]]:
    """(name, default) of /estimate's parameters, in order, as the server publishes them."""
    with urllib.request.urlopen(f"{url}gradio_api/info", timeout=30) as answer:
        info = json.load(answer)
    return [(p["parameter_name"], p["parameter_default"]) for p in info["named_endpoints"]["/estimate"]["parameters"]]


def http_predict(url: str, parameters: list[tuple[str, object]], settings: dict) -> dict:
    """One /estimate call over gradio's plain HTTP API: POST the data, then read the event stream."""
    body = json.dumps({"data": [settings.get(name, default) for name, default in parameters]}).encode()
    request = urllib.request.Request(f"{url}gradio_api/call/estimate", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        event_id = json.load(answer)["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/estimate/{event_id}", timeout=120) as stream:
        event = None
        for line in stream:
            text = line.decode().strip()
            if text.startswith("event:"):
                event = text.split(":", 1)[1].strip()
            elif text.startswith("data:") and event in ("complete", "error"):
                data = json.loads(text[5:])
                if event == "error":
                    raise RuntimeError(data)
                return data[0]
    raise RuntimeError("the event stream ended without a result")


def one_call(url: str, parameters, index: int) -> tuple[float, str | None]:
    settings, expected = REQUESTS[index % len(REQUESTS)]
    started = time.perf_counter()
    error = None
    try:
        report = http_predict(url, parameters, settings)
        if expected is not None and report["parameters"] != expected:
            error = f"{settings}: {report['parameters']} parameters, expected {expected}"
    except Exception as exc:  # NOTE: a load test counts every failure, whatever its kind
        error = f"{settings['model']}: {exc.__class__.__name__}: {exc}"
    return time.perf_counter() - started, error


def burst(url: str, parameters, size: int, timeout: float) -> list[tuple[float, str | None]]:
    """`size` calls released at the same instant, each from its own thread."""
    gate = threading.Barrier(size)

    def released(index: int):
        gate.wait(timeout=timeout)
        return one_call(url, parameters, index)

    with ThreadPoolExecutor(size) as pool:
        return [f.result(timeout=timeout) for f in [pool.submit(released, i) for i in range(size)]]


def sustained(url: str, parameters, calls: int, threads: int, timeout: float) -> list[tuple[float, str | None]]:
    """`calls` calls from `threads` threads, back to back (a bounded loop per thread)."""
    per_thread = -(-calls // threads)

    def worker(start: int):
        return [one_call(url, parameters, start + i) for i in range(per_thread) if start + i < calls]

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(worker, t * per_thread) for t in range(threads)]
        return [r for f in futures for r in f.result(timeout=timeout)]


def rss_mib(pid: int) -> float | None:
    """The process's resident memory (VmRSS, Linux /proc) in MiB, or None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(name: str, results: list[tuple[float, str | None]], wall: float) -> list[str]:
    latencies = [seconds for seconds, _ in results]
    errors = [error for _, error in results if error]
    ms = lambda s: f"{s * 1000:,.0f} ms"  # noqa: E731
    lines = [f"{name}: {len(results):,} calls in {wall:.1f} s ({len(results) / wall:.1f} calls/s), errors: {len(errors)}",
             f"  latency p50 {ms(statistics.median(latencies))}, p95 {ms(percentile(latencies, 0.95))}, "
             f"p99 {ms(percentile(latencies, 0.99))}, max {ms(max(latencies))}"]
    lines += [f"    {error[:300]}" for error in errors[:5]]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=100, help="calls in flight at once")
    parser.add_argument("--calls", type=int, default=2000, help="calls in the sustained run")
    parser.add_argument("--threads", type=int, default=16, help="client threads in the sustained run")
    parser.add_argument("--timeout", type=float, default=600, help="seconds each phase may take")
    args = parser.parse_args()
    if not (1 <= args.burst <= 1000 and 1 <= args.calls <= 100_000 and 1 <= args.threads <= 256):
        parser.error("keep --burst in 1..1000, --calls in 1..100000, --threads in 1..256")

    port = free_port()
    app = start_app(port, timeout_s=90)
    url = f"http://127.0.0.1:{port}/"
    lines = [f"/estimate on 127.0.0.1 (python app.py, offline), {os.cpu_count()} CPUs shared by the clients"]
    errors = 0
    try:
        parameters = api_defaults(url)
        for index in range(len(REQUESTS)):  # warm-up: each kind once (imports, catalog, first sessions)
            one_call(url, parameters, index)
        rss_before = rss_mib(app.pid)

        started = time.perf_counter()
        results = burst(url, parameters, args.burst, args.timeout)
        lines += summary(f"burst of {args.burst} concurrent calls", results, time.perf_counter() - started)
        errors += sum(1 for _, error in results if error)

        started = time.perf_counter()
        results, samples = [], []
        for done in range(0, args.calls, CHUNK):  # NOTE: chunks, to sample the server's memory as calls pile up
            results += sustained(url, parameters, min(CHUNK, args.calls - done), args.threads, args.timeout)
            samples.append((done + min(CHUNK, args.calls - done), rss_mib(app.pid)))
        lines += summary(f"sustained: {args.calls:,} calls from {args.threads} threads", results, time.perf_counter() - started)
        errors += sum(1 for _, error in results if error)
        rss_after = rss_mib(app.pid)
        if all(rss is not None for _, rss in samples):
            lines.append("  server RSS after " + ", ".join(f"{n:,}: {rss:,.0f} MiB" for n, rss in samples))
    finally:
        app.terminate()
        app.wait(timeout=20)
    if rss_before is not None and rss_after is not None:
        total = args.burst + args.calls
        lines.append(f"server RSS: {rss_before:,.0f} MiB after warm-up, {rss_after:,.0f} MiB after {total:,} more calls "
                     f"({rss_after - rss_before:+,.0f} MiB)")
    print("\n".join(lines))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""Load test: many concurrent /estimate calls against the running app, from several clients on loopback.

    python bench/load.py [--clients 20] [--calls 200] [--timeout 120] [--client gradio_client|http]

Starts `python app.py` on a free 127.0.0.1 port (offline, analytics off), then each of --clients
gradio_client Clients (one thread each) fires its share of --calls /estimate requests back to back,
over a mix of catalog models and raw counts. Prints p50 / p95 / max latency, throughput and errors.
Figures, not assertions: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gradio_client import Client

ROOT = Path(__file__).resolve().parents[1]
# (model, expected parameters): every answer is checked, so a wrong result counts as an error.
REQUESTS = [
    ("meta-llama/Llama-3.1-8B", 8_030_261_248),
    ("Qwen/Qwen3-30B-A3B", 30_532_122_624),
    ("70B", 70_000_000_000),
    ("deepseek-ai/DeepSeek-V3", None),
    ("mistralai/Mixtral-8x7B-v0.1", None),
    ("7e9", 7_000_000_000),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_app(port: int, timeout_s: float) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_SERVER_NAME": "127.0.0.1"}
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


def http_predict(url: str, model: str) -> dict:
    """One /estimate call over gradio's plain HTTP API (POST, then read the event stream): a light client."""
    # NOTE: plain HTTP calls must send every parameter; these are app.estimate's defaults.
    body = json.dumps({"data": [model, "fp32,fp16,int8,int4", "H100-80GB", 8192, 1, "auto", 1, "generic", 0.9, "checkpoint's own", ""]}).encode()
    request = urllib.request.Request(f"{url}gradio_api/call/estimate", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        event_id = json.load(answer)["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/estimate/{event_id}", timeout=60) as stream:
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


def run_client(url: str, index: int, calls: int, kind: str) -> list[tuple[float, str | None]]:
    client = Client(url, verbose=False, download_files=False) if kind == "gradio_client" else None
    results = []
    for call in range(calls):
        model, expected = REQUESTS[(index + call) % len(REQUESTS)]
        started = time.perf_counter()
        error = None
        try:
            report = client.predict(model, api_name="/estimate") if client else http_predict(url, model)
            if expected is not None and report["parameters"] != expected:
                error = f"{model}: {report['parameters']} parameters, expected {expected}"
        except Exception as exc:  # NOTE: a load test counts every failure, whatever its kind
            error = f"{model}: {exc.__class__.__name__}: {exc}"
        results.append((time.perf_counter() - started, error))
    return results


def app_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds the app process has used (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--calls", type=int, default=200, help="total /estimate calls, split evenly over the clients")
    parser.add_argument("--timeout", type=float, default=120, help="seconds the whole run may take")
    parser.add_argument("--client", choices=("gradio_client", "http"), default="gradio_client",
                        help="gradio_client (what API users run) or plain HTTP (lighter, to see the app's own cost)")
    args = parser.parse_args()
    per_client = -(-args.calls // args.clients)

    port = free_port()
    app = start_app(port, timeout_s=60)
    url = f"http://127.0.0.1:{port}/"
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            futures = [pool.submit(run_client, url, i, per_client, args.client) for i in range(args.clients)]
            results = [r for f in futures for r in f.result(timeout=args.timeout)]
        wall = time.perf_counter() - started
        server_cpu = app_cpu_seconds(app.pid)
    finally:
        app.terminate()
        app.wait(timeout=10)

    latencies = [seconds for seconds, _ in results]
    errors = [error for _, error in results if error]
    print(f"/estimate load: {len(results)} calls from {args.clients} {args.client} clients on 127.0.0.1 ({os.cpu_count()} CPUs)")
    print(f"  latency p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")
    print(f"  wall {wall:.1f} s (client start-up included), {len(results) / wall:.1f} calls/s")
    if server_cpu is not None:
        print(f"  app process CPU: {server_cpu:.1f} s in all ({server_cpu / len(results) * 1000:.0f} ms per call, start-up included);"
              " the clients run on the same CPUs")
    print(f"  errors: {len(errors)}")
    for error in errors[:5]:
        print(f"    {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

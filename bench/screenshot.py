"""Take the README screenshot (assets/screenshot.png) of the running app with Debian's Chromium.

    python bench/screenshot.py [--url-query "model=meta-llama/Llama-3.1-70B&tp=2"] [--out assets/screenshot.png]

Launches app.demo on a free 127.0.0.1 port (offline), opens the page with the query, waits for the
result and the chart, and saves the page down to the examples.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url-query", default="model=meta-llama/Llama-3.1-70B&tp=2")
    parser.add_argument("--out", default=str(ROOT / "assets" / "screenshot.png"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_OFFLINE"] = "1"
    sys.path.insert(0, str(ROOT))
    import app
    from playwright.sync_api import sync_playwright

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.LAUNCH_KWARGS)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            page.goto(f"http://127.0.0.1:{port}/?{args.url_query}")
            page.wait_for_selector("#card h3", timeout=60_000)
            page.wait_for_selector("#chart canvas, #chart svg", timeout=60_000)
            page.wait_for_timeout(1500)  # the chart animates in
            bottom = page.locator("#download").bounding_box()
            height = int(bottom["y"] + bottom["height"] + 16) if bottom else 1400
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out, clip={"x": 0, "y": 0, "width": 1280, "height": height}, full_page=True)
            browser.close()
    finally:
        app.demo.close()
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

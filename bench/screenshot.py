"""Take the README screenshots of the running app with Debian's Chromium: desktop and phone.

    python bench/screenshot.py [--url-query "model=meta-llama/Llama-3.1-70B"] [--out-dir assets]

Launches app.demo on a free 127.0.0.1 port (offline), opens the page with the query at 1280 px and at
390x844 (a phone), waits for the answer and the chart, and saves assets/screenshot.png (down to the CSV
link) and assets/screenshot-phone.png (the first screen).
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
    parser.add_argument("--url-query", default="model=meta-llama/Llama-3.1-70B")
    parser.add_argument("--out-dir", default=str(ROOT / "assets"))
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
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.LAUNCH_KWARGS)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            for name, viewport in (("screenshot.png", (1280, 900)), ("screenshot-phone.png", (390, 844))):
                page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=1)
                page.goto(f"http://127.0.0.1:{port}/?{args.url_query}")
                page.wait_for_selector("#answer", timeout=60_000)
                page.wait_for_selector("#chart svg.chart", timeout=60_000)
                page.wait_for_timeout(500)
                if name == "screenshot.png":
                    bottom = page.locator("#csv").bounding_box()
                    height = int(bottom["y"] + bottom["height"] + 16) if bottom else 1400
                    page.screenshot(path=str(out / name), clip={"x": 0, "y": 0, "width": viewport[0], "height": height},
                                    full_page=True)
                else:
                    page.screenshot(path=str(out / name))
                print(f"saved {out / name} ({viewport[0]}x{viewport[1]} viewport)")
                page.close()
            browser.close()
    finally:
        app.demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

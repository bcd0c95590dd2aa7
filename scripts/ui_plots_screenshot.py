"""Screenshot an asset's *Plots* (Overview → Metadata → Plots → Events) in the Dagster UI with
headless Chromium, through its DevTools protocol: the check the README's "Plots" paragraph
describes, repeatable by anyone.

    make demo-headless && make ui &                      # the UI on 127.0.0.1:3000
    .venv/bin/python scripts/ui_plots_screenshot.py churn/drift_report drift.png \\
        churn/model_performance perf.png [--url http://127.0.0.1:3000] [--partitions]

Needs `chromium` on PATH (Debian: `apt-get install chromium`). Prints, per asset, the metric
names the page shows; the screenshots are for a person to look at.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CLICK = (
    "[...document.querySelectorAll('button')]"
    ".filter(b => b.textContent.trim() === {label!r}).forEach(b => b.click())"
)


async def _screenshots(pairs: list[tuple[str, Path]], url: str, toggle: str, port: int) -> None:
    import websockets

    browser = subprocess.Popen(
        [
            "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--remote-debugging-port={port}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        tabs = _devtools_tabs(port)
        page = next(t["webSocketDebuggerUrl"] for t in tabs if t["type"] == "page")
        async with websockets.connect(page, max_size=64_000_000) as ws:
            sent = 0

            async def call(method: str, **params: object) -> dict:
                nonlocal sent
                sent += 1
                await ws.send(json.dumps({"id": sent, "method": method, "params": params}))
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("id") == sent:
                        return message.get("result", {})

            await call(
                "Emulation.setDeviceMetricsOverride",
                width=1600,
                height=1300,
                deviceScaleFactor=1,
                mobile=False,
            )
            for asset, out in pairs:
                await call("Page.navigate", url=f"{url}/assets/{asset}?view=overview")
                await asyncio.sleep(8)  # the UI loads its data after the page
                for label in ("Skip", "Plots", toggle):  # newsletter dialog, then the plots
                    await call("Runtime.evaluate", expression=CLICK.format(label=label))
                    await asyncio.sleep(2)
                await call("Runtime.evaluate", expression="window.scrollTo(0, 400)")
                await asyncio.sleep(1)
                shot = await call("Page.captureScreenshot", format="png")
                out.write_bytes(base64.b64decode(shot["data"]))
                headings = await call(
                    "Runtime.evaluate",
                    expression="[...document.querySelectorAll('canvas')].length",
                )
                print(f"{asset}: {headings['result'].get('value')} plots -> {out}")
    finally:
        browser.terminate()
        browser.wait(timeout=10)


def _devtools_tabs(port: int) -> list[dict]:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2) as answer:
                return json.load(answer)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pairs", nargs="+", help="ASSET_PATH OUT.png, repeated")
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--partitions", action="store_true", help="the Partitions x-axis")
    parser.add_argument("--devtools-port", type=int, default=9333)
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("give ASSET_PATH OUT.png pairs")
    if shutil.which("chromium") is None:
        print("chromium is not on PATH (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    pairs = [(args.pairs[i], Path(args.pairs[i + 1])) for i in range(0, len(args.pairs), 2)]
    toggle = "Partitions" if args.partitions else "Events"
    asyncio.run(_screenshots(pairs, args.url.rstrip("/"), toggle, args.devtools_port))
    return 0


if __name__ == "__main__":
    sys.exit(main())

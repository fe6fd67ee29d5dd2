"""Take the README's screenshots from a running DealerCRM with the demo network loaded.

    make demo                       # in one terminal (or: dealercrm runserver on a demo database)
    .venv/bin/python scripts/screenshots.py --base-url http://127.0.0.1:8000

Logs in as the demo manager of the first dealer, opens the workspace, the 360 page of a
customer with vehicles and history, the satisfaction dashboard and the complaint figures, and
saves PNGs to docs/screenshots/. Needs /usr/bin/chromium
(and fonts-noto-cjk for the Chinese text).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="sh01_manager")
    parser.add_argument("--password", default="demo-2026!")
    parser.add_argument("--customer-path", help="e.g. /customers/123/ (default: first in list)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        page = browser.new_page(base_url=args.base_url, viewport={"width": 1440, "height": 1000})
        page.goto("/login/")
        page.fill("input[name=username]", args.username)
        page.fill("input[name=password]", args.password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1500)  # let the charts finish their opening animation
        page.screenshot(path=str(OUT / "workspace.png"), full_page=False)
        if args.customer_path:
            page.goto(args.customer_path)
        else:
            page.goto("/customers/?stage=owner")
            page.locator("table a[href^='/customers/']").first.click()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / "customer-360.png"), full_page=False)
        for path, name in (
            ("/surveys/dashboard/", "satisfaction.png"),
            ("/complaints/stats/", "complaint-figures.png"),
        ):
            page.goto(path)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(OUT / name), full_page=False)
        browser.close()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()

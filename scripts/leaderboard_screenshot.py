"""Screenshots a leaderboard page in Debian's Chromium through Playwright (the README's picture).

Usage: python scripts/leaderboard_screenshot.py PAGE.html OUT.png
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def main(page_path: str, out: str) -> None:
    """Opens ``page_path`` over file:// at 1100x800 and writes the visible part to ``out``."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(Path(page_path).resolve().as_uri())
        page.wait_for_timeout(500)
        page.screenshot(path=out)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""Debian's chromium driven by Playwright (no ``playwright install``: it downloads)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def chromium_page(width: int, height: int) -> Iterator:
    """A fresh page that records JavaScript dialogs (``page.dialogs``) and requests
    (``page.requests``); fails under CI and skips elsewhere when chromium is missing."""
    if not Path(CHROMIUM).exists() or not shutil.which("chromium"):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: apt-get install chromium")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.dialogs = []
            page.requests = []
            page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: page.requests.append(r.url))
            yield page
        finally:
            browser.close()

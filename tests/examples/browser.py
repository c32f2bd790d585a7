"""Headless Debian Chromium through selenium for the apps' end-to-end tests, or a loud skip saying why not."""
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("LPFC_CHROMIUM", "/usr/bin/chromium")


def chromium_driver():
    """A selenium Chrome driver on headless Chromium (no sandbox, no background networking: this machine's
    network is closed); skips loudly when selenium, Chromium or chromedriver is missing or cannot start."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("SKIPPED LOUDLY: selenium is not installed (pip install -e '.[test]'); the browser test "
                    "did not run")
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not Path(CHROMIUM).exists() or not Path(driver_path).exists():
        pytest.skip(f"SKIPPED LOUDLY: Debian chromium ({CHROMIUM}) or chromedriver ({driver_path}) is missing: "
                    "apt-get install chromium chromium-driver (scripts/setup.sh does, as root)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage",
              "--disable-gpu", "--window-size=1000,900"):
        opts.add_argument(a)
    try:
        return webdriver.Chrome(service=Service(driver_path), options=opts)
    except Exception as e:  # noqa: BLE001 - any start failure means "cannot run here"
        pytest.skip(f"SKIPPED LOUDLY: Chromium cannot start here: {str(e).splitlines()[0]}")

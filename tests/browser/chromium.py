"""Headless Chromium from the distribution's packages (``apt-get install chromium
chromium-driver``), driven with Selenium through the system chromedriver: nothing is
downloaded. Used by the browser tests and scripts/screenshot_pages.py."""

from __future__ import annotations

import os
import shutil
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL = "install them with: apt-get install chromium chromium-driver (and pip install selenium)"


def executables() -> tuple[str | None, str | None]:
    """(browser, driver): $CHROMIUM / $CHROMEDRIVER, else the first on PATH."""
    named = os.environ.get("CHROMIUM")
    browser = shutil.which(named) if named else next(filter(None, map(shutil.which, BROWSERS)), None)
    driver = shutil.which(os.environ.get("CHROMEDRIVER") or "chromedriver")
    return browser, driver


def missing() -> str | None:
    """Why a browser cannot be started here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"selenium is not installed: {INSTALL}"
    browser, driver = executables()
    if browser is None:
        return f"no Chromium ({os.environ.get('CHROMIUM') or ' or '.join(BROWSERS)}) found: {INSTALL}"
    if driver is None:
        return f"no chromedriver ({os.environ.get('CHROMEDRIVER') or 'on PATH'}) found: {INSTALL}"
    return None


def start(width: int = 1280, height: int = 900) -> Any:
    """A headless Chromium window of this size (CSS pixels), as a Selenium WebDriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = executables()
    if browser is None or driver is None:
        raise RuntimeError(missing())
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # as root in a container, Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(driver), options=options)
    session.set_window_size(width, height)
    return session


def resize_viewport(session: Any, width: int, height: int) -> None:
    """Make the page's viewport (not the window) this size: a phone's is 390 x 844."""
    session.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )

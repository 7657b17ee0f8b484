"""Headless Chromium for the browser tests, driven by Selenium through chromedriver.

The browser is Debian's (`apt-get install chromium chromium-driver`, which scripts/bootstrap.sh
does as root): /usr/bin/chromium and /usr/bin/chromedriver, or DIFFMIG_CHROMIUM and
DIFFMIG_CHROMEDRIVER. Both paths are given to Selenium, so Selenium Manager never downloads a
browser or a driver. Without them the tests fail (they do not skip) and say what to install.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

INSTALL_HINT = (
    "install Debian's Chromium and its WebDriver: `sudo apt-get install chromium chromium-driver` "
    "(scripts/bootstrap.sh does it when run as root), or set DIFFMIG_CHROMIUM and "
    "DIFFMIG_CHROMEDRIVER to a Chromium binary and its matching chromedriver"
)


def _find(env: str, default: str, *names: str) -> str | None:
    chosen = os.environ.get(env)
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    if os.access(default, os.X_OK):
        return default
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def find_chromium() -> tuple[str, str]:
    """(browser, chromedriver), or the test fails saying what to install."""
    browser = _find("DIFFMIG_CHROMIUM", "/usr/bin/chromium", "chromium", "chromium-browser")
    driver = _find("DIFFMIG_CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver")
    missing = [
        name for name, path in (("chromium", browser), ("chromedriver", driver)) if path is None
    ]
    if missing or browser is None or driver is None:
        pytest.fail(f"{' and '.join(missing)} not found: {INSTALL_HINT}", pytrace=False)
    return browser, driver


class Browser:
    """One headless Chromium window (Selenium WebDriver) with its console log."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def open(self, url: str) -> None:
        self.driver.get(url)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait_for(self, script: str, *args: Any, timeout: float = 30.0, message: str = "") -> Any:
        """Poll a JavaScript expression (a function body that returns) until it is truthy."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(
                lambda d: d.execute_script(script, *args)
            )
        except TimeoutException:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {message or script}")

    def severe_console(self, ignore: Callable[[str], bool] = lambda _m: False) -> list[str]:
        """Console entries of level SEVERE since the last call (errors, failed loads), except
        those `ignore` accepts."""
        entries = self.driver.get_log("browser")
        return [
            e["message"] for e in entries if e["level"] == "SEVERE" and not ignore(e["message"])
        ]

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """A PNG of the viewport, or of the whole page (through the DevTools protocol)."""
        if full_page:
            shot = self.driver.execute_cdp_cmd(
                "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
            )
            path.write_bytes(base64.b64decode(shot["data"]))
        else:
            assert self.driver.save_screenshot(str(path)), f"no screenshot written to {path}"
        return path

    def image_stats(self, png: Path) -> dict[str, Any]:
        """Decode a PNG in the browser (a canvas: no imaging library needed) and count its
        distinct colours and the share of pixels that differ from its top-left pixel."""
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        self.driver.set_script_timeout(30)
        stats: dict[str, Any] = self.driver.execute_async_script(
            """
            const [data, done] = arguments;
            const img = new Image();
            img.onerror = () => done({error: 'not a decodable PNG'});
            img.onload = () => {
              const canvas = document.createElement('canvas');
              canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
              const ctx = canvas.getContext('2d');
              ctx.drawImage(img, 0, 0);
              const px = new Uint32Array(
                ctx.getImageData(0, 0, canvas.width, canvas.height).data.buffer);
              const colours = new Set();
              let differ = 0;
              for (let i = 0; i < px.length; i++) {
                if (colours.size < 100000) colours.add(px[i]);
                if (px[i] !== px[0]) differ++;
              }
              done({width: canvas.width, height: canvas.height, colours: colours.size,
                    non_background: differ / Math.max(1, px.length)});
            };
            img.src = 'data:image/png;base64,' + data;
            """,
            data,
        )
        assert "error" not in stats, stats
        return stats

    def assert_not_blank(self, png: Path, *, min_colours: int = 16) -> dict[str, Any]:
        stats = self.image_stats(png)
        assert stats["width"] > 0, stats
        assert stats["height"] > 0, stats
        assert stats["colours"] >= min_colours, (f"screenshot {png} looks blank", stats)
        assert stats["non_background"] > 0.01, (f"screenshot {png} looks blank", stats)
        return stats


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Browser]:
    """A headless Debian Chromium; fails the test, saying what to install, when it is missing."""
    browser_path, driver_path = find_chromium()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(
            "selenium is not installed: `.venv/bin/pip install -e '.[test]'` "
            "(scripts/bootstrap.sh does it)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in CI: Chromium's sandbox refuses to run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        # nothing but the page under test goes on the network
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield Browser(driver)
    finally:
        driver.quit()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        pass


@contextlib.contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve `root` over http on a free port of 127.0.0.1 from a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

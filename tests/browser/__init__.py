"""Browser tests: real Chromium (Debian's, not Playwright's download) against the live server.

`screenshot()` lives here rather than in conftest.py so that test modules can import it.
"""

from pathlib import Path

from playwright.sync_api import Page

from tests.conftest import ARTIFACTS

SCREENSHOTS = ARTIFACTS / "screenshots"  # test-artifacts/ is git-ignored
DESKTOP = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}  # a current phone, portrait


def screenshot(page: Page, name: str, *, narrow: bool = False) -> list[Path]:
    """Save full-page PNGs of what `page` shows: `<name>-1280.png`, and `<name>-390.png` too
    when `narrow`. The page's viewport is restored afterwards. Returns the files written."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    sizes = [DESKTOP, NARROW] if narrow else [DESKTOP]
    written = []
    try:
        for size in sizes:
            page.set_viewport_size(size)
            path = SCREENSHOTS / f"{name}-{size['width']}.png"
            page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
            written.append(path)
    finally:
        if original:
            page.set_viewport_size(original)
    return written

"""The HTML report in a real headless Chromium: it renders, and hostile strings stay inert.

Chromium comes from the system (Debian's `chromium` package). Without it the tests skip,
except under CI (env var CI set), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from _report_util import PWNED, make_summary
from promptops.reports import document, render_html

TIMEOUT_S = 90
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "chromium is not installed (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests")
    pytest.skip(reason)


def run_chromium(binary: str, tmp: Path, *args: str) -> str:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    done = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class DomParser(HTMLParser):
    """Collects what a script injection would leave behind in the serialised DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.handlers: list[str] = []
        self.title = ""
        self.text: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self._in_title = tag == "title" and not self.title

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        self.text.append(data)


def dump_dom(binary: str, tmp: Path, page: str) -> DomParser:
    path = tmp / "report.html"
    path.write_text(page, encoding="utf-8")
    parser = DomParser()
    parser.feed(run_chromium(binary, tmp, "--dump-dom", path.as_uri()))
    return parser


def test_detector_sees_a_script_that_runs(chromium: str, tmp_path: Path) -> None:
    """Control: an unescaped script does change the title, so the real test can fail."""
    unsafe = "<html><head><title>fine</title></head><body><script>document.title='pwned'</script>"
    dom = dump_dom(chromium, tmp_path, unsafe)
    assert dom.title == PWNED


def test_report_renders_and_hostile_strings_stay_text(chromium: str, tmp_path: Path) -> None:
    summary = make_summary(passed=False)
    dom = dump_dom(chromium, tmp_path, render_html(summary))
    assert dom.title == document(summary).title  # nothing rewrote document.title
    assert PWNED not in dom.title
    assert "script" not in dom.tags and "img" not in dom.tags
    assert dom.handlers == []
    text = "".join(dom.text)
    assert "FAIL: 1 of 2 thresholds failed." in text
    assert "The prompt beats the best baseline, tfidf_logreg." in text
    assert "<script>document.title='pwned'</script>" in text  # shown, not run
    assert dom.tags.count("svg") == 5


def test_screenshot_is_a_full_page(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(make_summary(hostile=False)), encoding="utf-8")
    png = tmp_path / "shot.png"
    run_chromium(
        chromium, tmp_path, f"--screenshot={png}", "--window-size=1280,2400", page.as_uri()
    )
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2400)
    assert len(data) > 100_000  # a blank or error page compresses to a few kB

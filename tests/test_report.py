"""The HTML report (pysim.report.html, ``pysim report``, Result._repr_html_): every section
present, self-contained (no http(s) reference, no script), plots that are real PNGs; and a
headless Chromium that loads it with no console error and renders every section."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

import pysim
from pysim.cli import main
from pysim.report import html
from pysim.report.page import SECTIONS
from pysim.simulate import simulate

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """What the tests check of a page: section ids and headings, every URL-bearing
    attribute, the inline images, scripts, and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.headings: list[str] = []
        self.urls: list[str] = []
        self.images: list[str] = []
        self.scripts = 0
        self.text: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id") or "")
        if tag == "h2":
            self._in_h2 = True
        if tag == "script":
            self.scripts += 1
        if tag == "img":
            self.images.append(a.get("src") or "")
        for key in ("src", "href", "action", "data", "poster", "srcset"):
            if a.get(key):
                self.urls.append(a[key] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_h2:
            self.headings.append(data.strip())


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module", params=["edge_npu", "a100"])
def page(request: pytest.FixtureRequest) -> tuple[object, str]:
    hw = (pysim.gpu.preset("a100") if request.param == "a100"
          else ROOT / "configs" / f"{request.param}.yaml")
    res = simulate(hw, pysim.zoo.load("resnet18"), trace=True)
    return res, html(res)


def test_every_section_is_present(page) -> None:
    res, text = page
    parsed = _parse(text)
    assert parsed.sections == [sid for sid, _ in SECTIONS]
    assert parsed.headings == [h for _, h in SECTIONS]
    body = "".join(parsed.text)
    for op in res.layers["op"]:  # the per-op table holds every op
        assert op in body
    assert res.hardware in body and res.workload in body


def test_the_page_is_self_contained(page) -> None:
    _, text = page
    parsed = _parse(text)
    assert not re.search(r"https?:", text, re.IGNORECASE)
    assert "//" not in "".join(u for u in parsed.urls if not u.startswith("data:"))
    for url in parsed.urls:
        assert url.startswith(("#", "data:")), url
    assert parsed.scripts == 0


def test_the_plots_are_inline_pngs(page) -> None:
    res, text = page
    images = _parse(text).images
    # latency, energy, roofline (resnet18 has MAC ops), timeline, memory
    assert len(images) == 5
    for src in images:
        head, _, data = src.partition(",")
        assert head == "data:image/png;base64"
        raw = base64.b64decode(data, validate=True)
        assert raw.startswith(PNG) and len(raw) > 5000


def test_the_report_is_deterministic() -> None:
    hw = ROOT / "configs" / "edge_npu.yaml"
    wl = ROOT / "workloads" / "tiny_cnn.yaml"
    assert html(simulate(hw, wl, trace=True)) == html(simulate(hw, wl, trace=True))


def test_a_result_without_timeline_still_reports() -> None:
    res = simulate(ROOT / "configs" / "edge_npu.yaml", ROOT / "workloads" / "tiny_cnn.yaml")
    parsed = _parse(html(res))
    assert parsed.sections == [sid for sid, _ in SECTIONS]
    assert "trace=True" in "".join(parsed.text)


def test_notebook_view_is_compact(page) -> None:
    res, _ = page
    view = res._repr_html_()
    parsed = _parse(view)
    assert res.workload in view and res.hardware in view
    assert not parsed.images and not parsed.scripts
    longest = res.layers.loc[res.layers["cycles"].idxmax(), "op"]
    assert longest in "".join(parsed.text)
    assert len(view) < 20_000


def test_cli_writes_the_report_and_trace(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out, trace = tmp_path / "report.html", tmp_path / "run.json"
    assert main(["report", str(ROOT / "configs" / "edge_npu.yaml"),
                 str(ROOT / "workloads" / "tiny_cnn.yaml"), "-o", str(out), "--trace",
                 str(trace)]) == 0
    assert _parse(out.read_text()).sections == [sid for sid, _ in SECTIONS]
    assert json.loads(trace.read_text())["traceEvents"]
    assert "report.html" in capsys.readouterr().out
    gpu = tmp_path / "gpu.html"
    assert main(["report", "gpu:a100", "zoo:resnet18:batch=2", "-o", str(gpu)]) == 0
    assert "a100" in gpu.read_text()


def test_cli_bad_input_is_an_error_not_a_traceback(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    assert main(["report", "gpu:no_such_gpu", "zoo:resnet18", "-o",
                 str(tmp_path / "x.html")]) == 2
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


# --- a real browser -------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)

# Added to a copy of the page (the report itself runs no script): records errors and, after
# load, each section's rendered height and how many of its images decoded.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(
  String(e.message || (e.target && e.target.tagName) || e.type)), true);
const realError = console.error;
console.error = (...a) => { window.__errors.push(a.join(" ")); realError(...a); };
window.addEventListener("load", () => {
  const out = {errors: window.__errors, sections: {}};
  for (const s of document.querySelectorAll("section")) {
    const imgs = [...s.querySelectorAll("img")];
    out.sections[s.id] = {height: s.getBoundingClientRect().height, images: imgs.length,
      decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length};
  }
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


@pytest.mark.skipif(BROWSER is None, reason="no headless browser installed (looked for "
                    + ", ".join(BROWSERS) + " on PATH; apt-get install chromium)")
def test_chromium_renders_every_section_without_console_errors(page, tmp_path: Path) -> None:
    _, text = page
    probed = tmp_path / "report.html"
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    run = subprocess.run(
        [str(BROWSER), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--enable-logging=stderr", "--v=0",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
         "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
        # not with the ASan runtime preloaded (tests/sanitize.sh): the browser hangs with it
        env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stdout[-2000:]
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["errors"] == []
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    assert list(probe["sections"]) == [sid for sid, _ in SECTIONS]
    for sid, seen in probe["sections"].items():
        assert seen["height"] > 50, (sid, seen)
        assert seen["decoded"] == seen["images"], (sid, seen)
    assert sum(s["images"] for s in probe["sections"].values()) == 5


def test_pysim_report_html_is_the_function() -> None:
    import pysim.report
    import pysim.report.page  # noqa: F401 - importing the module must not shadow the function

    assert callable(pysim.report.html)


def test_help_lists_report(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert any(line.split()[:1] == ["report"] for line in capsys.readouterr().out.splitlines())
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "-o FILE" in out and "--trace" in out and "[zoo:]NAME" in out

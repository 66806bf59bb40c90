"""The docs-site checker (docs/scripts/check_site.py) finds what it promises to find.

One headless-Chromium run over a two-page site written here: a sound page that must
pass, and a page with one of each defect that must fail with each one named.
Skipped where Chromium or Playwright is missing (`make docs-check` says the same).
"""

import base64
import importlib.util
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "check_site", ROOT / "docs" / "scripts" / "check_site.py"
)
check_site = importlib.util.module_from_spec(_spec)
sys.modules["check_site"] = check_site
_spec.loader.exec_module(check_site)

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
HEAD = "<!doctype html><html><head><meta charset='utf-8'><style>pre{overflow:auto}</style></head><body>"
GOOD = (
    HEAD
    + """<article class="md-content__inner" style="width:600px">
<h1 id="top">Good</h1>
<p>A <a href="../bad/#here">link with an anchor</a>, <a href="#top">one on the page</a>
and <a href="https://example.org/">one to another host</a> (not requested).</p>
<p><img src="dot.png" alt="dot"></p>
<table><tr><th>a</th><td>b</td></tr></table>
<pre><code>"""
    + "x" * 400
    + """</code></pre>
</article></body></html>"""
)
BAD = (
    HEAD
    + """<article class="md-content__inner" style="width:600px">
<h1 id="here">Bad</h1>
<p>Raw maths \\(x^2\\) and a broken $(m, s) = $ formula.</p>
<p><img src="missing.png" alt="gone"> <img src="https://example.invalid/x.png" alt="ext"></p>
<p><a href="../nowhere/">no page</a> and <a href="../good/#nope">no anchor</a>.</p>
<table><tr><th>wide</th><td style="min-width:2000px">cell</td></tr></table>
</article></body></html>"""
)


@pytest.fixture
def site(tmp_path):
    for name, html in (("good", GOOD), ("bad", BAD)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text(html)
    (tmp_path / "good" / "dot.png").write_bytes(PNG)
    return tmp_path


def test_site_pages_lists_pages_not_assets(site):
    (site / "assets").mkdir()
    (site / "assets" / "x.html").write_text("")
    (site / "404.html").write_text("")
    assert check_site.site_pages(site) == ["bad/", "good/"]


def test_checker_fails_each_defect_and_passes_a_sound_page(site, capsys):
    pytest.importorskip("playwright")
    chromium = check_site.find_chromium(None)
    if chromium is None:
        pytest.skip("Chromium is not installed")
    assert check_site.check(site, site / "shots", chromium) == 1
    out = capsys.readouterr().out
    assert "FAIL good/" not in out
    bad = out.split("FAIL bad/")[1].split("docs-check:")[0]
    for expected in (
        "Raw maths \\(x^2\\)",
        "a broken $(m, s) = $",
        "image did not load: http://127.0.0.1",
        "local request failed: /bad/missing.png -> 404",
        "request to another host: https://example.invalid/x.png",
        "broken link /nowhere/: no such file",
        "broken link /good/#nope: no element with id 'nope'",
        "too wide: table 'wide'",
    ):
        assert expected in bad, expected
    assert bad.count("raw TeX") == 2
    assert bad.count("image did not load") == 2
    assert "1 external requests" in out
    assert "(2 broken)" in out

"""Check the built docs site as a reader sees it, in headless Chromium.

Usage (from the repo root, after `mkdocs build --site-dir site`; `make docs-check`
does both):

    python docs/scripts/check_site.py site [--screenshots site-check]

The site is served on 127.0.0.1 (a free port, stopped afterwards) and every HTML
page is loaded in Debian's Chromium, driven by Playwright over the DevTools
protocol. Each page must have:

- every formula rendered: no raw TeX delimiters (`\\(`, `\\)`, `\\[`, `\\]`, `$$`
  or a `$...$` pair) left in the text outside code, no MathJax error (`merror`), no
  undefined macro and no visible backslash inside a formula;
- zero requests to any host other than the local server, no local request that
  fails (a missing file is a 404), and no JavaScript error;
- every internal link resolving to a file of the site and, with a `#fragment`, to
  an element with that id on the target page;
- every image loaded (`naturalWidth > 0`);
- no table, code block, formula or image wider than the content column. A code
  block may scroll inside its own `pre > code` and a display formula inside its
  `div.arithmatex`, the scroll containers the theme gives them on purpose; a
  table must fit whole (the theme's table scroll wrapper is a fallback, not a
  layout), and the page itself must not scroll sideways.

It prints a summary and every failure, saves screenshots of a few pages to
`--screenshots`, and exits 1 on any failure. Without Chromium it prints why and
exits 0 (skipped), so that a machine that cannot install it still runs the rest of
`make test`.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path


CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
# Pages to photograph (site path prefix -> file name stem). Missing pages are skipped.
SCREENSHOTS = {
    "sdes/": "sdes",
    "sampling/": "sampling",
    "demo/report/": "demo_report",
    "training/": "training",
}
SKIP_DIRS = {"assets", "search", "_static", "javascripts", "overrides"}

# Everything measured on one page, in one round trip to the browser.
PAGE_PROBE = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  if (document.fonts && document.fonts.ready) { await document.fonts.ready; }
  const out = {formulas: 0, mathErrors: [], rawTex: [], links: [], ids: [],
               images: [], overflow: [], pageScrollX: 0};
  // Formulas, judged on MathJax's own internal MathML of each one.
  if (window.MathJax && MathJax.startup && MathJax.startup.document) {
    for (const item of MathJax.startup.document.math) {
      out.formulas += 1;
      const tex = String(item.math).slice(0, 120);
      let mml = "";
      try { mml = MathJax.startup.toMML(item.root); } catch (e) { mml = ""; }
      if (/<merror/.test(mml)) {
        const m = mml.match(/<mtext[^>]*>([^<]*)<\/mtext>/);
        out.mathErrors.push({tex, why: "MathJax error" + (m ? ": " + m[1] : "")});
      } else if (/mathcolor="red"/.test(mml)) {
        out.mathErrors.push({tex, why: "undefined macro"});
      } else {
        const token = /<(mtext|mi|mo|mn)[^>]*>([^<]*\\[^<]*)<\/\1>/.exec(mml);
        if (token && !/^\\$/.test(token[2].trim())) {
          out.mathErrors.push({tex, why: "visible backslash: " + token[2]});
        }
      }
    }
  }
  const column = document.querySelector(".md-content__inner") || document.body;
  // Raw TeX left in the rendered text (outside code, scripts and rendered maths).
  const skip = new Set(["CODE", "PRE", "SCRIPT", "STYLE", "TEXTAREA",
                        "MJX-CONTAINER", "MJX-ASSISTIVE-MML"]);
  const walker = document.createTreeWalker(column, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      for (let e = node.parentElement; e && e !== column; e = e.parentElement) {
        if (skip.has(e.tagName)) { return NodeFilter.FILTER_REJECT; }
      }
      return NodeFilter.FILTER_ACCEPT;
    }});
  let text = "";
  for (let n = walker.nextNode(); n; n = walker.nextNode()) { text += n.data; }
  // Whole raw formulas first (one report each), then any lone delimiter.
  const rawTex = new RegExp([
    String.raw`\\\([\s\S]{0,300}?\\\)`, String.raw`\\\[[\s\S]{0,500}?\\\]`,
    String.raw`\$\$[\s\S]{0,500}?\$\$`, String.raw`\$\S[^$\n]{0,200}\$`,
    String.raw`\\[()[\]]`, String.raw`\$\$`].join("|"), "g");
  for (const m of text.matchAll(rawTex)) {
    const i = m.index;
    out.rawTex.push(text.slice(Math.max(0, i - 30), i + 50).replace(/\s+/g, " "));
  }
  // Links and anchors (links anywhere on the page, navigation included).
  for (const a of document.querySelectorAll("a[href]")) {
    out.links.push(a.href);
  }
  for (const e of document.querySelectorAll("[id]")) { out.ids.push(e.id); }
  for (const e of document.querySelectorAll("a[name]")) { out.ids.push(e.name); }
  // Images.
  for (const img of document.querySelectorAll("img")) {
    out.images.push({src: img.currentSrc || img.src,
                     ok: img.complete && img.naturalWidth > 0,
                     scale: img.naturalWidth > 0 && column.contains(img)
                       ? img.getBoundingClientRect().width / img.naturalWidth : null});
  }
  // Widths against the content column.
  const cs = getComputedStyle(column);
  const r = column.getBoundingClientRect();
  const left = r.left + parseFloat(cs.paddingLeft);
  const right = r.right - parseFloat(cs.paddingRight);
  const tol = 1;
  const label = (e) => {
    const head = e.tagName === "TABLE" ? (e.querySelector("th") || e) : e;
    let h = e;
    let section = "";
    while (h && h !== column) {
      let s = h.previousElementSibling;
      while (s && !/^H[1-6]$/.test(s.tagName)) { s = s.previousElementSibling; }
      if (s) { section = s.textContent.replace("¶", "").trim(); break; }
      h = h.parentElement;
    }
    return e.tagName.toLowerCase() + " '" + head.textContent.trim().slice(0, 40)
      + "'" + (section ? " under '" + section.slice(0, 50) + "'" : "");
  };
  const check = (e, box, what) => {
    const b = box.getBoundingClientRect();
    if (b.width === 0) { return; }
    if (b.left < left - tol || b.right > right + tol) {
      out.overflow.push(label(e) + ": " + what + " " + Math.round(b.width)
        + " px, column " + Math.round(right - left) + " px");
    }
  };
  for (const t of column.querySelectorAll("table")) {
    // A table must fit whole, not scroll inside the theme's wrapper (which itself
    // bleeds into the column's margins by design, so it is not measured).
    if (t.scrollWidth > t.clientWidth + tol) {
      out.overflow.push(label(t) + ": scrolls sideways, " + t.scrollWidth
        + " px of content in " + t.clientWidth + " px");
    }
    const tb = t.getBoundingClientRect();
    if (tb.right > right + tol) {
      out.overflow.push(label(t) + ": " + Math.round(tb.width)
        + " px wide, column " + Math.round(right - left) + " px");
    }
  }
  for (const p of column.querySelectorAll("pre")) {
    // The code may scroll inside pre > code (the theme's scroll container).
    check(p, p, "code block");
  }
  for (const d of column.querySelectorAll("div.arithmatex, mjx-container[display]")) {
    const box = d.closest("div.arithmatex") || d;
    check(d, box, "display formula");
  }
  for (const img of column.querySelectorAll("img")) { check(img, img, "image"); }
  const W = document.documentElement.clientWidth;
  out.pageScrollX = document.documentElement.scrollWidth - W;
  if (out.pageScrollX > tol) {
    for (const e of column.querySelectorAll("*")) {
      if (e.getBoundingClientRect().right > W + tol) {
        out.culprit = label(e);
        break;
      }
    }
  }
  return out;
}
"""


@dataclass
class PageResult:
    path: str
    formulas: int = 0
    problems: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    images: int = 0


def find_chromium(explicit: str | None) -> str | None:
    for candidate in (explicit, os.environ.get("CHROMIUM")):
        if candidate:
            return candidate
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def site_pages(site: Path) -> list[str]:
    """Site-relative URL paths of every page, `index.html` shown as its folder."""
    pages = []
    for f in sorted(site.rglob("*.html")):
        rel = f.relative_to(site)
        if rel.parts[0] in SKIP_DIRS or rel.name == "404.html":
            continue
        url = rel.as_posix()
        if url == "index.html":
            url = ""
        elif url.endswith("/index.html"):
            url = url[: -len("index.html")]
        pages.append(url)
    return pages


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def target_file(site: Path, path: str) -> Path | None:
    """The file the local server sends for a URL path, or None."""
    rel = urllib.parse.unquote(path).lstrip("/")
    f = site / rel
    if f.is_dir():
        f = f / "index.html"
    return f if f.is_file() else None


def check(site: Path, shots: Path | None, chromium: str) -> int:
    from playwright.sync_api import sync_playwright

    start = time.perf_counter()
    pages = site_pages(site)
    if not pages:
        print(f"docs-check: no HTML pages under {site}", file=sys.stderr)
        return 1
    server, base = serve(site)
    external: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    results: dict[str, PageResult] = {}
    current = {"page": ""}
    scales: list[tuple[float, str]] = []  # figure shown / natural width
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
            ctx = p.chromium.launch_persistent_context(
                profile,
                executable_path=chromium,
                headless=True,
                args=[
                    *CHROMIUM_FLAGS,
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                ],
                viewport=VIEWPORT,
                service_workers="block",
            )
            try:
                # Record every request to another host (the host resolver rules
                # below make each fail at once, so none leaves the machine or
                # waits on a network; intercepting requests instead costs 2x time).
                def request(r):
                    if not r.url.startswith(base) and not r.url.startswith(
                        ("data:", "blob:", "about:")
                    ):
                        external.append((current["page"], r.url))

                ctx.on("request", request)

                def request_failed(r):
                    # A request cut short by the next navigation is not a failure.
                    why = r.failure or ""
                    if r.url.startswith(base) and "ERR_ABORTED" not in why:
                        failed.append((current["page"], f"{r.url} failed: {why}"))

                ctx.on("requestfailed", request_failed)

                def response(r):
                    if r.url.startswith(base) and r.status >= 400:
                        failed.append((current["page"], f"{r.url} -> {r.status}"))

                ctx.on("response", response)
                page = ctx.pages[0] if ctx.pages else ctx.new_page()
                js_errors: list[str] = []
                page.on("pageerror", lambda e: js_errors.append(str(e)))
                if shots is not None:
                    shots.mkdir(parents=True, exist_ok=True)
                for path in pages:
                    current["page"] = path or "index"
                    js_errors.clear()
                    res = PageResult(path or "(home)")
                    page.goto(base + path, wait_until="load", timeout=60_000)
                    probe = page.evaluate(PAGE_PROBE)
                    res.formulas = probe["formulas"]
                    res.links = probe["links"]
                    res.ids = set(probe["ids"])
                    res.images = len(probe["images"])
                    for m in probe["mathErrors"]:
                        res.problems.append(f"formula: {m['why']} in {m['tex']!r}")
                    for t in probe["rawTex"]:
                        res.problems.append(f"raw TeX in the text: ...{t}...")
                    for img in probe["images"]:
                        if img["scale"] is not None:
                            scales.append((img["scale"], img["src"][len(base) - 1 :]))
                        if not img["ok"]:
                            res.problems.append(f"image did not load: {img['src']}")
                    res.problems += [f"too wide: {o}" for o in probe["overflow"]]
                    if probe["pageScrollX"] > 1:
                        res.problems.append(
                            f"the page scrolls sideways by {probe['pageScrollX']} px"
                            f" (first too wide: {probe.get('culprit')})"
                        )
                    res.problems += [f"JavaScript error: {e}" for e in js_errors]
                    results[path] = res
                    if shots is not None and path in SCREENSHOTS:
                        take_screenshots(page, shots / SCREENSHOTS[path])
            finally:
                ctx.close()
    finally:
        server.shutdown()
        server.server_close()

    # Links and anchors, now that every page's ids are known.
    broken_links = 0
    n_links = 0
    for path, res in results.items():
        seen = set()
        for href in res.links:
            if not href.startswith(base) or href in seen:
                continue
            seen.add(href)
            n_links += 1
            url = urllib.parse.urlsplit(href[len(base) - 1 :])
            f = target_file(site, url.path)
            why = None
            if f is None:
                why = "no such file"
            elif url.fragment:
                frag = urllib.parse.unquote(url.fragment)
                target = f.relative_to(site).as_posix()
                target = "" if target == "index.html" else target
                target = target.removesuffix("index.html")
                ids = results[target].ids if target in results else None
                if ids is None:
                    why = "anchor on a page that was not checked"
                elif frag not in ids:
                    why = f"no element with id {frag!r}"
            if why:
                broken_links += 1
                res.problems.append(f"broken link {href[len(base) - 1 :]}: {why}")
    for page_path, what in failed:
        key = "" if page_path == "index" else page_path
        results[key].problems.append(f"local request failed: {what[len(base) - 1 :]}")
    for page_path, url in external:
        key = "" if page_path == "index" else page_path
        results[key].problems.append(f"request to another host: {url}")

    n_formulas = sum(r.formulas for r in results.values())
    n_images = sum(r.images for r in results.values())
    counts = {
        "raw TeX": 0,
        "formula:": 0,
        "image did not load": 0,
        "too wide": 0,
    }
    for r in results.values():
        for prob in r.problems:
            for k in counts:
                if prob.startswith(k):
                    counts[k] += 1
    bad_pages = [r for r in results.values() if r.problems]
    for r in bad_pages:
        print(f"FAIL {r.path}")
        for prob in r.problems:
            print(f"    {prob}")
    elapsed = time.perf_counter() - start
    print(
        f"docs-check: {len(results)} pages, {n_formulas} formulas rendered "
        f"({counts['formula:']} with errors, {counts['raw TeX']} raw TeX left), "
        f"{len(external)} external requests, {len(failed)} failed local requests, "
        f"{n_links} internal links ({broken_links} broken), "
        f"{n_images} images ({counts['image did not load']} broken), "
        f"{counts['too wide']} too-wide tables/code/images "
        f"[{elapsed:.1f} s]"
    )
    if scales:
        scale, src = min(scales)
        print(
            f"docs-check: figures shown at {scale:.0%} of their pixel size or more "
            f"(the smallest: {src}) at a {VIEWPORT['width']} px wide window"
        )
    if shots is not None:
        print(f"docs-check: screenshots in {shots}/")
    if bad_pages:
        print(f"docs-check: FAILED on {len(bad_pages)} of {len(results)} pages")
        return 1
    print("docs-check: all pages pass")
    return 0


def take_screenshots(page, stem: Path) -> None:
    """The top of the page, its first table and its first figure, as displayed."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=f"{stem}.png")
    for what, selector in (
        ("table", ".md-content__inner table"),
        ("figure", ".md-content__inner p img"),
    ):
        element = page.query_selector(selector)
        if element is not None:
            # The sticky header would cover the top of a tall element.
            element.screenshot(
                path=f"{stem}_{what}.png", style=".md-header{visibility:hidden}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the built site (mkdocs --site-dir)")
    parser.add_argument("--screenshots", type=Path, default=None, metavar="DIR")
    parser.add_argument("--chromium", default=None, help="the browser executable")
    args = parser.parse_args(argv)
    if not args.site.is_dir():
        print(f"docs-check: site folder {args.site} does not exist", file=sys.stderr)
        return 1
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print(
            "docs-check: SKIPPED: Chromium not found (install Debian's `chromium`, "
            "or pass --chromium PATH / set CHROMIUM); the site was built but not "
            "checked in a browser"
        )
        return 0
    return check(args.site, args.screenshots, chromium)


if __name__ == "__main__":
    sys.exit(main())

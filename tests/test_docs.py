"""The docs' and README's code examples run (so they never go stale).

Each page's ```python blocks run in order in one namespace, as a reader would run
them. A block whose first line is `# docs: skip` is not run (say why on that line); a page
that starts with `<!-- docs-test: slow -->` runs only with the slow marker.
"""

import re
from pathlib import Path

import jax
import matplotlib
import pytest


ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks(page: Path) -> list[str]:
    return [
        b for b in BLOCK.findall(page.read_text()) if not b.startswith("# docs: skip")
    ]


def _params():
    for page in PAGES:
        if not _blocks(page):
            continue
        # pages that train full models are end-to-end checks: behind the slow marker
        slow = page.read_text().startswith("<!-- docs-test: slow -->")
        marks = [pytest.mark.slow] if slow else []
        yield pytest.param(page, id=page.name, marks=marks)


@pytest.mark.parametrize("page", list(_params()))
def test_page_examples_run(page, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    # The examples are a user's code: they run under JAX's default promotion
    # rules, not the strict ones the rest of the suite holds the library to.
    with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"):
        for i, block in enumerate(_blocks(page)):
            code = compile(block, f"{page.name}[block {i}]", "exec")
            exec(code, namespace)

"""The README is the front door and docs/ holds the manual: every setting the code reads is
documented, every relative link leads to a page and a heading that exist, the README stays
short and links every page. Reads files only; imports nothing from salescli."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

# Written by the layout and testing work; links to them are skipped until they exist.
PENDING_PAGES = {DOCS / "architecture.md", DOCS / "testing.md"}

VARIABLE = re.compile(r"SALESCLI_[A-Z0-9_]*[A-Z0-9]")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HTML_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _prose_lines(markdown: str):
    """The lines of ``markdown`` outside fenced code blocks."""
    fence = None
    for line in markdown.splitlines():
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            continue
        yield line


def _github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of ``markdown`` (fenced code skipped), and any
    ``<a id="...">`` anchors (docs/cli.md has one before each command)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose_lines(markdown):
        anchors.update(HTML_ANCHOR.findall(line))
        heading = re.match(r"#{1,6} (.+)$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _links(markdown: str) -> list[str]:
    """Link targets of ``markdown`` outside fenced code blocks."""
    return [target for line in _prose_lines(markdown) for target in LINK.findall(line)]


def test_every_environment_variable_is_documented():
    used = set()
    for folder in ("salescli", "jobs"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(VARIABLE.findall(path.read_text()))
    documented = set()
    for page in PAGES:
        documented |= set(VARIABLE.findall(page.read_text()))
    # Prefixes used to build names (SALESCLI_IMAP_ + suffix) are not variables themselves.
    prefixes = {u for u in used if any(v.startswith(u + "_") for v in used | documented)}
    assert used, "no SALESCLI_ variables found in salescli/ and jobs/"
    missing = sorted(used - documented - prefixes)
    assert not missing, "not documented in README.md or docs/*.md: " + ", ".join(missing)


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_relative_links_lead_to_a_page_and_a_heading(page):
    anchor_cache: dict[Path, set[str]] = {}
    broken = []
    for target in _links(page.read_text()):
        if re.match(r"(?i)(https?|mailto):", target):
            continue
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            if dest in PENDING_PAGES:
                continue
            broken.append(f"{target}: no such file")
            continue
        if fragment:
            if dest.suffix != ".md" or not dest.is_file():
                broken.append(f"{target}: a fragment into a file that is not a page")
                continue
            if dest not in anchor_cache:
                anchor_cache[dest] = _github_anchors(dest.read_text())
            if fragment not in anchor_cache[dest]:
                broken.append(f"{target}: no heading or anchor #{fragment} in {_name(dest)}")
    assert not broken, f"broken links in {_name(page)}:\n" + "\n".join(broken)


def test_readme_is_a_short_front_door():
    text = README.read_text()
    assert len(text) < 25_000
    first = "\n".join(text.splitlines()[:6])
    assert "./dev demo" in first
    assert "./dev test" in first


@pytest.mark.parametrize("page", PAGES[1:], ids=_name)
def test_every_docs_page_is_linked_from_the_readme(page):
    linked = {(ROOT / target.partition("#")[0]).resolve()
              for target in _links(README.read_text())
              if not re.match(r"(?i)(https?|mailto):", target) and not target.startswith("#")}
    assert page.resolve() in linked, f"README.md does not link {_name(page)}"


def test_anchor_slugs_follow_github():
    anchors = _github_anchors(
        '# Health says "integrity check failed"\n## SMTP, notifications and reports\n'
        "## Tables and views\n```sh\n# not a heading\n```\n## Tables and views\n"
        '<a id="salescli-scan"></a>\n'
    )
    assert anchors == {"health-says-integrity-check-failed", "smtp-notifications-and-reports",
                       "tables-and-views", "tables-and-views-1", "salescli-scan"}

"""Where the browser goes after sign-in: only a same-origin path, judged as a browser
reads the URL, so ``next`` can never send a signed-in user to another site."""

from __future__ import annotations

import re
import urllib.parse

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def browser_normalised(value: str) -> str:
    """``value`` as a browser reads a URL (WHATWG): leading and trailing C0 controls and
    spaces dropped, tabs and newlines removed anywhere, backslashes taken as slashes."""
    value = value.strip(_C0_AND_SPACE)
    value = value.replace("\t", "").replace("\n", "").replace("\r", "")
    return value.replace("\\", "/")


def safe_next(value: str | None) -> str:
    """The redirect after sign-in: a same-origin absolute path as the browser will read
    it (no scheme, no ``//host``), or "" for the landing page. Judged after the browser's
    normalisation, so a tab or a backslash cannot turn ``next`` into ``//evil.example``."""
    value = browser_normalised(value or "")
    if (not value.startswith("/") or value.startswith("//") or _SCHEME.match(value)
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value) or len(value) > 2048):
        return ""
    # What is left is sent in a Location header: percent-encode anything not plain ASCII.
    return urllib.parse.quote(value, safe="/?#[]@!$&'()*+,;=:%~-._")

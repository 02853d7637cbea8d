"""Bundled report templates (``templates/``) and dashboard configuration, shipped as data.

The rendering code lives in ``salescli.reporting``; ``write_report`` is re-exported here
for callers that look for it under the package that holds the templates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_report(conn: Any, name: str, fmt: str, path: str | Path, **opts: Any) -> Path:
    """See ``salescli.reporting.write_report`` (imported lazily: Jinja2 is heavy)."""
    from salescli.reporting import write_report as _write

    return _write(conn, name, fmt, path, **opts)

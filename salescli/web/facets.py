"""Facets on the JSON API: a table's default facets are for the HTML page.

The prospects table declares three default facets (``reports/datasette.yml``) for the
managers' page. Datasette computes them for every JSON request of the table too, one SQL
round trip each (plus one for the stage labels), each queued on the SQL thread pool behind
other pages: under load the JSON list of prospects was the slowest page. A JSON request of
a table that names no facet gets ``_nofacet=1``; one that asks for ``_facet=…`` gets the
facets as before, the default ones included (docs/dashboard.md, "JSON API").
"""

from __future__ import annotations

import re
import urllib.parse

from salescli.web.auth import SERVED_DATABASE

_TABLE_JSON = re.compile(rf"^/{SERVED_DATABASE}/[^/]+\.json$")


def without_default_facets(scope: dict, path: str) -> dict:
    """``scope`` with ``_nofacet=1`` added when ``path`` is the JSON page of a table (or
    view) of the served database and the query names no facet; else ``scope`` itself."""
    if not _TABLE_JSON.match(path):
        return scope
    query = scope.get("query_string", b"").decode("latin-1")
    names = {k.lower() for k, _ in urllib.parse.parse_qsl(query, keep_blank_values=True)}
    if any(n.startswith("_facet") or n == "_nofacet" for n in names):
        return scope
    added = "_nofacet=1" if not query else query + "&_nofacet=1"
    return {**scope, "query_string": added.encode("latin-1")}

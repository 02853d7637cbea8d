"""Facets: a table's default facets are for the HTML page, and its columns' facets are
counted at once.

The prospects table declares three default facets (``reports/datasette.yml``) for the
managers' page. Datasette computes them for every JSON request of the table too, one SQL
round trip each (plus one for the stage labels), each queued on the SQL thread pool behind
other pages: under load the JSON list of prospects was the slowest page. A JSON request of
a table that names no facet gets ``_nofacet=1``; one that asks for ``_facet=…`` gets the
facets as before, the default ones included (docs/dashboard.md, "JSON API").

Datasette's column facet asks its columns one after the other (each count, then the
labels of its values), every question a trip through the SQL thread pool; under load each
trip waits its turn. ``ConcurrentColumnFacet`` asks for every column at once, the same
questions with the same answers; ``register_facet_classes`` puts it in place of Datasette's.
"""

from __future__ import annotations

import asyncio
import copy
import re
import urllib.parse
from typing import Any

from datasette import hookimpl
from datasette.facets import ColumnFacet

from salescli.web.auth import SERVED_DATABASE

BUILTIN_FACETS = "datasette.facets"

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


class ConcurrentColumnFacet(ColumnFacet):
    """Datasette's ``ColumnFacet``, its columns counted concurrently, results in order."""

    async def facet_results(self) -> tuple[list, list]:
        configs = self.get_configs()
        # One column needs no gathering; either way the results are the same, only the
        # speed differs, so no behaviour tells this condition's mutants apart.
        if len(configs) < 2:  # pragma: no mutate
            return await super().facet_results()
        parts = await asyncio.gather(*(self._one(config) for config in configs))
        return [r for part in parts for r in part[0]], [t for part in parts for t in part[1]]

    async def _one(self, config: dict) -> tuple[list, list]:
        single = copy.copy(self)
        single.get_configs = lambda: [config]
        return await ColumnFacet.facet_results(single)


@hookimpl
def register_facet_classes() -> list[Any]:
    """Datasette's facet classes, ``ConcurrentColumnFacet`` for its column facet."""
    from datasette import facets as builtin

    return [ConcurrentColumnFacet if c is builtin.ColumnFacet else c
            for c in builtin.register_facet_classes()]

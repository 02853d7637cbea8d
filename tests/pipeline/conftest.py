"""Fixtures of the import tests."""

from __future__ import annotations

import pytest

from salescli.pipeline import import_read, import_write, importer


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 4 then up to 10 rows, each inserted (on the worker thread) while the next
    is checked: a 30-row file takes the path of a 100k-row one."""
    monkeypatch.setattr(import_read, "_FIRST", 4)
    monkeypatch.setattr(import_read, "_BATCH", 10)
    monkeypatch.setattr(importer, "_FLUSH", 3)
    monkeypatch.setattr(import_write, "_BULK_MIN", 10)

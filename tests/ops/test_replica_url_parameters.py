"""A replica URL with query parameters, as Litestream reads them for an S3-compatible store
(``s3://bucket/path?endpoint=http://minio:9000&region=…``): the URL is accepted as given,
and each database goes under its path, the parameters kept for every one."""

from __future__ import annotations

from pathlib import Path

from salescli.ops import replication

URL = "s3://backups/salescli?endpoint=http://minio.internal:9000&region=eu-west-1"


def test_a_url_with_an_endpoint_parameter_is_accepted_as_given(monkeypatch):
    monkeypatch.setenv("SALESCLI_REPLICA_URL", URL)
    assert replication.replica_url() == URL


def test_each_database_goes_under_the_urls_path_with_its_parameters():
    query = "?endpoint=http://minio.internal:9000&region=eu-west-1"
    assert replication.replica_of(URL, Path("/srv/sales.db")) == \
        f"s3://backups/salescli/sales.db{query}"
    assert replication.replica_of("s3://backups/salescli/" + query, Path("credentials.db")) \
        == f"s3://backups/salescli/credentials.db{query}"
    assert replication.replica_of("file:///srv/replica/", Path("sales.db")) == \
        "file:///srv/replica/sales.db"

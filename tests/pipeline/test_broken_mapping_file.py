"""A broken ``--mapping`` file is one Error: line naming the file, the key and the value,
and nothing is imported (pinned by mutants that survived the older tests)."""

from __future__ import annotations

import pytest

from tests.support.cli import fails, ok, scalar

TOOL = '[tool]\nname = "mine"\ntitle = "My CRM"\nsignature = ["Email"]\n'


@pytest.mark.parametrize("toml, needles", [
    (TOOL + 'colour = "red"\n', ["tool.colour is not a key of [tool]"]),
    (TOOL + "min_signature = 5\n",
     ["tool.min_signature 5 must be a whole number from 0 to 1 (the signature's length)"]),
    (TOOL + '[format]\ntags_drop = ["old", 7]\n',
     ["format.tags_drop ['old', 7] must be a list of labels"]),
], ids=["unknown-key", "min-signature", "tags-drop"])
def test_a_broken_mapping_file_names_itself_and_the_key(invoke, sales, tmp_path, toml, needles):
    mapping = tmp_path / "mine.toml"
    mapping.write_text(toml, encoding="utf-8")
    data = tmp_path / "people.csv"
    data.write_text("Email\nada@example.com\n", encoding="utf-8")
    fails(invoke("prospects", "import", data, "--mapping", mapping),
          f"profile {mapping}:", *needles)
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0


def test_a_mapping_file_that_is_not_text_names_itself(invoke, sales, tmp_path):
    mapping = tmp_path / "latin.toml"
    mapping.write_bytes(TOOL.replace("My CRM", "Caf\xe9").encode("latin-1"))
    data = tmp_path / "people.csv"
    data.write_text("Email\nada@example.com\n", encoding="utf-8")
    fails(invoke("prospects", "import", data, "--mapping", mapping),
          f"profile {mapping}: the file cannot be read: ")
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0


@pytest.mark.parametrize("delimiter", [",", ";", "\\t", "|"])
def test_each_delimiter_a_mapping_may_name_reads_the_file(invoke, sales, tmp_path, delimiter):
    mapping = tmp_path / "mine.toml"
    mapping.write_text(TOOL + f'[format]\ndelimiter = "{delimiter}"\n[columns]\nEmail = "email"\n'
                       'Name = "name"\n', encoding="utf-8")
    sep = "\t" if delimiter == "\\t" else delimiter
    data = tmp_path / "people.csv"
    data.write_text(f"Email{sep}Name\nada@example.com{sep}Ada\n", encoding="utf-8")
    ok(invoke("prospects", "import", data, "--mapping", mapping))
    assert scalar(sales, "SELECT name FROM prospects WHERE email = 'ada@example.com'") == "Ada"


def test_a_mappings_encoding_is_used_to_read_the_file(invoke, sales, tmp_path):
    mapping = tmp_path / "mine.toml"
    mapping.write_text(TOOL + '[format]\nencoding = "cp1252"\n[columns]\nEmail = "email"\n'
                       'Name = "name"\n', encoding="utf-8")
    data = tmp_path / "people.csv"
    data.write_bytes(b"Email,Name\nada@example.com,Caf\xc3\xa9\n")  # UTF-8 bytes, said cp1252
    assert ok(invoke("prospects", "import", data, "--mapping", mapping, "--dry-run")
              ).splitlines()[1] == ("file: people.csv (1 row; encoding cp1252, delimiter ',';"
                                    " one row per person)")
    ok(invoke("prospects", "import", data, "--mapping", mapping))
    assert scalar(sales, "SELECT name FROM prospects") == "Caf\u00c3\u00a9"  # as it says

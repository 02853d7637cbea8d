"""Rendering the weekly and owner reports: escaping per format, numbers, templates."""

from __future__ import annotations

import html
import re

import markdown
import pytest

from tests.reports.helpers import (
    FORMULA,
    IMG,
    MDLINK,
    OWNER_XSS,
    PAYLOADS,
    PERIOD,
    SCRIPT,
    assert_inert_html,
    files,
)

REPORTS = ("weekly", "owner")


@pytest.mark.parametrize("name", REPORTS)
def test_html_report_shows_hostile_names_as_text(invoke, pipeline_db, name):
    result = invoke("report", name, "--format", "html", *PERIOD)
    assert result.exit_code == 0, result.output
    doc = assert_inert_html(result.stdout)
    for payload in (*PAYLOADS, OWNER_XSS, FORMULA):
        assert payload in doc.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in result.stdout


@pytest.mark.parametrize("name", REPORTS)
def test_markdown_report_escapes_markdown_and_html(invoke, pipeline_db, name):
    result = invoke("report", name, "--format", "md", *PERIOD)
    assert result.exit_code == 0, result.output
    source = result.stdout
    assert SCRIPT not in source and "[x](javascript" not in source
    rendered = markdown.markdown(source, extensions=["tables"])
    doc = assert_inert_html(rendered)
    assert "<a " not in rendered and "<code>" not in rendered
    assert all(e.startswith(("No ", "Nobody")) for e in re.findall("<em>(.*?)</em>", rendered))
    for payload in (*PAYLOADS, OWNER_XSS, "Acme & Sons | _Ltd_"):
        assert payload in doc.text, payload
    # Markdown tables keep their shape: every row has the header's number of cells.
    if name == "weekly":
        assert "| &lt;b&gt;b\\|ob&lt;/b&gt; |" in source  # in the owners table
    for table in re.findall(r"((?:^\|.*\n)+)", source, re.M):
        widths = {len(re.split(r"(?<!\\)\|", line)) for line in table.splitlines()}
        assert len(widths) == 1, table


@pytest.mark.parametrize("name", REPORTS)
def test_text_report_is_not_escaped(invoke, pipeline_db, name):
    result = invoke("report", name, "--format", "text", *PERIOD)
    assert result.exit_code == 0, result.output
    for payload in (SCRIPT, IMG, MDLINK, OWNER_XSS):
        assert payload in result.stdout
    assert "&lt;" not in result.stdout and "\\*" not in result.stdout


def test_weekly_numbers(invoke, pipeline_db):
    out = invoke("report", "weekly", *PERIOD).stdout  # text is the default on stdout
    assert "2024-05-06 to 2024-05-12" in out
    kpi = {m.group(1): m.group(2) for m in re.finditer(r"^  (\w[\w ]+?)\s{2,}(\S+)", out, re.M)}
    assert kpi["Emails sent"] == "5" and kpi["Replies"] == "1" and kpi["Bounces"] == "1"
    assert kpi["Won"] == "1" and kpi["Lost"] == "1" and kpi["Win rate"] == "50.0%"
    assert kpi["New prospects"] == "2"  # Ada (the script one) and Grace; not the April ones
    assert kpi["Open pipeline"] == "3"
    assert "reply rate 20.0%" in out and "value 12k" in out  # the won deal's value
    stages = dict(re.findall(r"^  (lead|contacted|replied|won)\s+(\d+)", out, re.M))
    assert stages == {"lead": "1", "contacted": "1", "replied": "1", "won": "1"}
    trend = re.findall(r"^  (2024-\d\d-\d\d)\s+(\d+)\s+(\d+)", out, re.M)
    assert trend[-1] == ("2024-05-06", "2", "5") and trend[-2] == ("2024-04-29", "1", "0")
    assert trend[-4] == ("2024-04-15", "1", "1") and len(trend) == 8
    assert "No deals won" not in out and "Lost Larry" not in out.split("Replies")[1]


def test_owner_report_for_one_owner(invoke, pipeline_db):
    out = invoke("report", "owner", "--owner", "alice", *PERIOD).stdout
    assert "alice" in out and OWNER_XSS not in out
    assert "Grace Hopper" in out and "Acme & Sons" not in out  # bob's prospect
    all_owners = invoke("report", "owner", *PERIOD).stdout
    for heading in ("alice", OWNER_XSS, "(unassigned)"):
        assert f"\n{heading}\n" in all_owners


def test_html_file_is_self_contained_with_svg_charts(invoke, pipeline_db, tmp_path):
    out = tmp_path / "weekly.html"
    result = invoke("report", "weekly", "--output", out, *PERIOD)
    assert result.exit_code == 0, result.output
    page = out.read_text()
    doc = assert_inert_html(page)
    assert doc.tags.count("svg") == 6  # the funnel, four trend panels, the forecast band
    assert not [v for a, v in doc.attrs if a in ("src", "href") and v]
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "<title>won: 1 (12k USD)</title>" in page and "<title>lead: 1 (30k USD)</title>" in page
    assert (out.stat().st_mode & 0o777) == 0o600


def test_mail_variant_draws_css_bars_not_svg(pipeline_db, db_file):
    from salescli.reports import render

    from salescli.core import db

    conn = db.open_read(db_file)
    page = render.render(conn, "weekly", "html", email=True, until="2024-05-12")
    conn.close()
    assert "<svg" not in page
    assert 'bgcolor="#059669"' in page and "width=\"100.0%\"" in page
    assert_inert_html(page)


def test_unrolled_metrics_are_flagged(invoke, pipeline_db, db_file):
    from salescli.core import db

    conn = db.open_write(db_file)
    conn.execute("DELETE FROM metrics_state")
    conn.close()
    out = invoke("report", "weekly", *PERIOD).stdout
    assert "NOTE: the weekly trend comes from the nightly rollup, which has not run yet" in out
    assert "salescli rollup" in out


def test_write_report_for_the_demo(pipeline_db, db_file, tmp_path):
    from salescli.reports.render import write_report

    from salescli.core import db

    conn = db.open_read(db_file)
    path = write_report(conn, "weekly", "html", tmp_path / "r.html", until="2024-05-12")
    conn.close()
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert html.escape(SCRIPT, quote=False) in path.read_text()


def test_user_templates_override_bundled_ones(invoke, pipeline_db, tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "weekly.html").write_text(
        '{% extends "_layout.html" %}{% block content %}<p id="mine">MINE '
        "{{ kpis.emails_sent }} {{ replies[0].name }}</p>{% endblock %}")
    (mine / "weekly.md").write_text("MINE {{ replies[0].name }} {{ replies[0].subject }}\n")
    result = invoke("report", "weekly", "--format", "html", "--templates", mine, *PERIOD)
    assert '<p id="mine">MINE 5 &lt;script&gt;' in result.stdout  # still autoescaped
    assert "<style>" in result.stdout  # the bundled layout it extends
    monkeypatch.setenv("SALESCLI_TEMPLATES", str(mine))
    md = invoke("report", "weekly", "--format", "md", *PERIOD).stdout
    assert md.startswith("MINE &lt;script&gt;alert\\(1\\)&lt;/script&gt; Re: \\*\\[x\\]")
    text = invoke("report", "weekly", "--format", "text", *PERIOD).stdout
    assert text.startswith("Pipeline report")  # no user text template: the bundled one


def test_broken_user_template_is_one_line_and_keeps_the_old_file(invoke, pipeline_db,
                                                                  tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "weekly.html").write_text("<p>\n{% if %}</p>")
    out = tmp_path / "weekly.html"
    out.write_text("last week's report")
    result = invoke("report", "weekly", "--templates", mine, "--output", out, *PERIOD)
    assert result.exit_code == 1
    assert result.stderr == (f"Error: template {mine / 'weekly.html'}, line 2: Expected an "
                             "expression, got 'end of statement block'\n")
    assert out.read_text() == "last week's report"
    assert files(tmp_path) == ["mine", "mine/weekly.html", "weekly.html"]


@pytest.mark.parametrize("args, message", [
    (("report", "monthly"), "Error: report 'monthly' is not a report; choose one of: "
     "weekly, owner"),
    (("report", "weekly", "--until", "2024-02-30"), "Error: --until '2024-02-30' is not a "
     "date (use YYYY-MM-DD)"),
    (("report", "weekly", "--until", "last friday"), "Error: --until 'last friday' is not a "
     "date (use YYYY-MM-DD)"),
    (("report", "weekly", "--days", "0"), "Error: --days 0 must be between 1 and 366"),
    (("report", "owner", "--owner", "zed"), "Error: --owner 'zed' owns no prospects and has "
     "no history (owners: <b>b|ob</b>, alice)"),
    (("report", "weekly", "--templates", "/nonexistent"), "Error: --templates "
     "'/nonexistent' is not a directory"),
    (("report", "weekly", "--email", "not-an-address"), "Error: --email 'not-an-address' is "
     "not an email address"),
])
def test_bad_input_is_one_line(invoke, pipeline_db, args, message):
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.stderr == message + "\n"
    assert result.stdout == ""


@pytest.mark.parametrize("where", ["missing/dir/r.html", "adir", "afile/r.html"])
def test_unwritable_output_leaves_nothing(invoke, pipeline_db, tmp_path, where):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    before = files(tmp_path)
    result = invoke("report", "weekly", "--output", tmp_path / where, *PERIOD)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: --output '{tmp_path / where}' ")
    assert result.stderr.count("\n") == 1
    assert files(tmp_path) == before


def test_format_follows_the_output_extension(invoke, pipeline_db, tmp_path):
    for suffix, start in ((".md", "# Pipeline report"), (".txt", "Pipeline report, 2024"),
                          (".html", "<!DOCTYPE html>")):
        out = tmp_path / f"r{suffix}"
        assert invoke("report", "weekly", "-o", out, *PERIOD).exit_code == 0
        assert out.read_text().startswith(start)


def test_time_zone_moves_the_period(invoke, pipeline_db, monkeypatch):
    monkeypatch.setenv("SALESCLI_TZ", "Pacific/Auckland")
    out = invoke("report", "weekly", "--format", "html", *PERIOD).stdout
    assert "Pacific/Auckland" in out
    assert "was rolled up in UTC" in out  # the trend's days are UTC days: say so
    # Bounce at 07:00Z on the 11th is 19:00 local; times show in the report's zone.
    assert "Sat 11 May" in out
    monkeypatch.setenv("SALESCLI_TZ", "Mars/Olympus")
    result = invoke("report", "weekly", *PERIOD)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: SALESCLI_TZ 'Mars/Olympus' is not a known time zone")
    assert result.stderr.count("\n") == 1

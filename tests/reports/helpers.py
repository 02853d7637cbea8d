"""A small pipeline with hostile names for the report and export tests, plus HTML checks."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

from salescli.core import db
from salescli.metrics import rollup
from salescli.pipeline import interactions, prospects, stages

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
MDLINK = "*[x](javascript:alert(1))*"
FORMULA = '=HYPERLINK("http://evil.example","click")'
OWNER_XSS = "<b>b|ob</b>"  # a pipe too: Markdown tables must keep their shape
PAYLOADS = (SCRIPT, IMG, MDLINK)

# The period every report test uses: Monday 6 to Sunday 12 May 2024.
UNTIL = "2024-05-12"
PERIOD = ("--until", UNTIL, "--days", "7")


def build(path) -> dict[str, int]:
    """Five prospects with payloads in names, companies, owners and subjects, their history
    and interactions, rolled up through the period's last day. In the period: 2 new
    prospects, 5 emails sent, 1 reply, 1 bounce, 1 deal won (12,000), 1 lost."""
    conn = db.open_write(path)
    try:
        t = "tester"
        p1 = prospects.add(conn, t, "xss@evil.example", name=SCRIPT, company=IMG,
                           owner="alice", value=5000, at="2024-05-06T09:00:00Z")["id"]
        stages.move(conn, t, p1, "contacted", at="2024-05-07T10:00:00Z")
        stages.move(conn, t, p1, "replied", at="2024-05-08T11:00:00Z")
        p2 = prospects.add(conn, t, "md@evil.example", name=MDLINK,
                           company="Acme & Sons | _Ltd_", owner=OWNER_XSS, value=12000,
                           at="2024-04-20T09:00:00Z")["id"]
        stages.move(conn, t, p2, "proposal", at="2024-04-25T09:00:00Z")
        stages.move(conn, t, p2, "won", reason="signed", at="2024-05-09T15:00:00Z")
        p3 = prospects.add(conn, t, "grace@navy.example", name="Grace Hopper",
                           company="Navy", owner="alice", value=30000,
                           at="2024-05-10T08:00:00Z")["id"]
        p4 = prospects.add(conn, t, "formula@evil.example", name=FORMULA,
                           company="Formula Inc", at="2024-03-01T08:00:00Z")["id"]
        stages.move(conn, t, p4, "contacted", at="2024-03-02T08:00:00Z")
        p5 = prospects.add(conn, t, "larry@lost.example", name="Lost Larry", owner="alice",
                           at="2024-05-01T08:00:00Z")["id"]
        stages.move(conn, t, p5, "lost", reason="budget", at="2024-05-11T08:00:00Z")
        interactions.record(conn, t, p1, "email_out", "2024-05-06T09:30:00Z",
                            subject=f"Intro {SCRIPT}", message_id="<m1@ours>")
        interactions.record(conn, t, p1, "email_in", "2024-05-08T10:30:00Z",
                            subject=f"Re: {MDLINK} {IMG}", message_id="<m2@theirs>")
        interactions.record(conn, t, p3, "bounce", "2024-05-11T07:00:00Z",
                            subject="Undelivered", message_id="<m3@mx>")
        interactions.record(conn, t, p2, "email_out", "2024-04-21T09:00:00Z",
                            subject="Old news", message_id="<m4@ours>")
        for when, pid, n in (("2024-05-07T09:00:00Z", p1, 5), ("2024-05-10T09:00:00Z", p3, 6),
                             ("2024-05-10T10:00:00Z", p3, 7), ("2024-05-07T11:00:00Z", p5, 8)):
            interactions.record(conn, t, pid, "email_out", when, subject="Following up",
                                message_id=f"<m{n}@ours>")
        rollup.rollup(conn, since="2024-03-01", tz="UTC", today=date(2024, 5, 12))
        return {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "p5": p5}
    finally:
        conn.close()


def files(directory) -> list[str]:
    """Every file and folder under ``directory`` except the database and its WAL files."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*")
                  if not p.name.startswith("sales.db"))


class Html(HTMLParser):
    """Tags, attributes and visible text of an HTML document (text unescaped)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.chunks: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())


def assert_inert_html(text: str) -> Html:
    """No element, attribute or URL came from the data; the payloads show as text."""
    doc = Html(text)
    assert "script" not in doc.tags and "img" not in doc.tags
    assert not [a for a, _ in doc.attrs if a.startswith("on")]
    assert not [v for _, v in doc.attrs if v and "javascript:" in v.lower()]
    return doc

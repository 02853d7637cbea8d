"""The kind of each message, read from its headers alone: which messages are read whole as
possible bounces, which are auto-replies, list or automated mail, and the kind recorded
(outbound, internal, inbound, ...) for our own addresses and for others. One table: each
row is a message's header block and every verdict the scanner takes from it."""

from __future__ import annotations

import pytest

from salescli.mail import classify as cls
from salescli.mail.parse import Envelope, parse_envelope

ME = "me@ours.example"
OWN = frozenset({ME, "@team.ours.example"})
DATE = "Date: Tue, 1 Dec 2026 10:00:00 +0000"


def _env(*lines: str, sent: bool = False) -> Envelope:
    """The envelope the scanner parses from these header lines (a Date is added)."""
    raw = "\r\n".join([*lines, DATE, "", ""]).encode("utf-8")
    return parse_envelope(Envelope("acct", "INBOX", 1, "INBOX/1", sent_folder=sent), raw, None)


def _verdicts(env: Envelope) -> tuple[bool, bool, bool, bool, str]:
    """(bounce candidate, auto-reply, list, automated, kind) of one message."""
    seen = (cls.is_bounce_candidate(env), cls.is_auto_reply(env), cls.is_list(env),
            cls.is_automated(env))
    return (*seen, str(cls.classify(cls.mark(env), OWN)))


PERSON = "From: Ada <ada@example.com>"
TO_ME = f"To: {ME}"

BOUNCE_SUBJECTS = [
    "Undelivered Mail Returned to Sender", "Undeliverable: Hello",
    "Delivery Status Notification (Failure)", "Delivery Status Notification (Delay)",
    "Delivery failure", "Delivery has failed to these recipients", "Delivery incomplete",
    "Delivery Notification: Delivery has failed", "Mail delivery failed: returning message",
    "Mail Delivery Failure", "Mail Delivery System", "Mail delivery subsystem",
    "Returned mail: see transcript for details", "failure notice", "Non-delivery report",
    "Nondeliverable mail", "Non delivery", "Message not delivered",
    "Warning: message 1x2 delayed 4 hours", "Warning: could not send message for 4 hours",
    "Could not send message", "Delivery delayed: Hello", "Nicht zustellbar: Hallo",
    "Unzustellbar: Hallo", "Non remis : Bonjour", "Mail System Error - Returned Mail",
]
NOT_BOUNCE_SUBJECTS = [
    "Re: Undeliverable: Hello", "FW:Undeliverable: Hello", "Delivery status", "Hello",
    "Delivery update for your order", "Warning: low balance", "Returned parcel",
    "Mail delivery", "Nonprofit news",
]


@pytest.mark.parametrize("subject", BOUNCE_SUBJECTS)
def test_a_bounce_subject_makes_a_bounce_candidate_whoever_sends_it(subject):
    assert _verdicts(_env(PERSON, TO_ME, f"Subject: {subject}")) == (
        True, False, False, False, "inbound")


@pytest.mark.parametrize("subject", NOT_BOUNCE_SUBJECTS)
def test_a_subject_that_only_mentions_delivery_is_a_reply(subject):
    assert _verdicts(_env(PERSON, TO_ME, f"Subject: {subject}")) == (
        False, False, False, False, "inbound")


AUTO_SUBJECTS = [
    "Automatic reply: Hello", "Auto reply: Hello", "Auto-Response: Hello",
    "Autoreply: Hello", "Auto_Answer Hello", "Autoantwort: Hallo", "Automatic Response",
    "AutoReply", "Auto: Hello", "Out of Office: Hello", "Out of the office", "OOO: Hello",
    "ooo back monday", "On vacation", "Vacation: Hello", "Vacation reply: Hello",
    "Away from the office", "Away from office until Monday", "Abwesenheit: Hallo",
    "Automatische Antwort: Hallo", "Réponse automatique : Bonjour",
    "Reponse automatique : Bonjour", "Absence : Bonjour", "Respuesta automática: Hola",
    "Respuesta automatica: Hola", "Fuera de la oficina: Hola", "Risposta automatica: Ciao",
    "Automatisch antwoord: Hallo", "Afwezig: Hallo", "Autosvar: Hej",
    "Automaattinen vastaus: Hei",
]
NOT_AUTO_SUBJECTS = [
    "Re: Out of office", "Automation ideas", "OOOps", "Vacation plans", "Away",
    "Autumn reply", "Our office", "Reponse rapide",
]


@pytest.mark.parametrize("subject", AUTO_SUBJECTS)
def test_an_auto_reply_subject_makes_an_auto_reply(subject):
    assert _verdicts(_env(PERSON, TO_ME, f"Subject: {subject}")) == (
        False, True, False, False, "auto_reply")


@pytest.mark.parametrize("subject", NOT_AUTO_SUBJECTS)
def test_a_subject_like_an_auto_reply_is_a_reply(subject):
    assert _verdicts(_env(PERSON, TO_ME, f"Subject: {subject}")) == (
        False, False, False, False, "inbound")


NOREPLY = [
    "noreply", "no-reply", "donotreply", "do-not-reply", "donot-reply", "do-notreply",
    "noreply-billing", "billing-noreply", "mailer-daemon", "postmaster", "maildaemon",
    "mail-daemon", "bounce", "bounces", "bounces+abc", "bounce-123", "notification",
    "notifications", "notify", "alert", "alerts", "newsletter", "newsletters", "news",
    "info-noreply", "infonoreply", "automated", "automailer", "auto-mailer", "system",
    "daemon", "root",
]
PEOPLE = [
    "ada", "noreplyx", "xnoreply", "reply", "no-replies", "bouncer", "info", "roots",
    "news-desk", "rootkit", "systems", "nodaemon", "alerts2", "notifier", "auto",
]


@pytest.mark.parametrize("local", NOREPLY)
def test_a_no_reply_sender_is_automated(local):
    assert cls.is_noreply(f"{local}@example.com") is True
    env = _env(f"From: {local}@example.com", TO_ME, "Subject: Your order")
    daemon = local in ("mailer-daemon", "postmaster", "maildaemon", "mail-daemon")
    assert _verdicts(env) == (daemon, False, False, True, "automated")


@pytest.mark.parametrize("local", PEOPLE)
def test_a_person_is_not_a_no_reply_sender(local):
    assert cls.is_noreply(f"{local}@example.com") is False
    env = _env(f"From: {local}@example.com", TO_ME, "Subject: Hello")
    assert _verdicts(env) == (False, False, False, False, "inbound")


def test_no_address_is_not_a_no_reply_sender():
    assert (cls.is_noreply(None), cls.is_noreply("")) == (False, False)


CASES = {
    # header lines -> (bounce candidate, auto-reply, list, automated, kind)
    "delivery report": ((PERSON, TO_ME, "Subject: Hi",
                         "Content-Type: multipart/report; report-type=delivery-status;"
                         ' boundary="b"'), (True, False, False, False, "inbound")),
    "delivery report, quoted type": ((PERSON, TO_ME, "Subject: Hi",
                                      'Content-Type: multipart/mixed; report-type = '
                                      '"delivery-status"'),
                                     (True, False, False, False, "inbound")),
    "DSN type without a report": ((PERSON, TO_ME, "Subject: Hi",
                                   "Content-Type: MULTIPART/REPORT; report-type=disposition"),
                                  (True, False, False, False, "inbound")),
    "other report type": ((PERSON, TO_ME, "Subject: Hi",
                           "Content-Type: multipart/mixed; report-type=disposition-notification"
                           ), (False, False, False, False, "inbound")),
    "failed recipients": ((PERSON, TO_ME, "Subject: Hi", "X-Failed-Recipients: b@example.com"),
                          (True, False, False, False, "inbound")),
    "null return path": ((PERSON, TO_ME, "Subject: Hi", "Return-Path: <>"),
                         (True, False, False, False, "inbound")),
    "null return path, spaced": ((PERSON, TO_ME, "Subject: Hi", "Return-Path:  <> "),
                                 (True, False, False, False, "inbound")),
    "a return path": ((PERSON, TO_ME, "Subject: Hi", "Return-Path: <ada@example.com>"),
                      (False, False, False, False, "inbound")),
    "quoted mailer-daemon": (('From: "MAILER-DAEMON"@example.com', TO_ME, "Subject: Hi"),
                             (True, False, False, True, "automated")),
    "mdaemon": (("From: MDaemon@example.com", TO_ME, "Subject: Hi"),
                (True, False, False, False, "inbound")),
    "a quoted local part with an @ is not the daemon": (
        ('From: "mailer-daemon@mx"@example.com', TO_ME, "Subject: Hi"),
        (False, False, False, False, "inbound")),
    "a quoted no-reply sender": (('From: "no-reply"@example.com', TO_ME, "Subject: Hi"),
                                 (False, False, False, True, "automated")),
    "the null path as From": (("From: Mail Delivery System <>", TO_ME, "Subject: Hi"),
                              (True, False, False, False, "inbound")),
    "the null path, spaced": (("From:  <> ", TO_ME, "Subject: Hi"),
                              (True, False, False, False, "inbound")),
    "an unusable From": (("From: Mail Delivery System", TO_ME, "Subject: Hi"),
                         (False, False, False, False, "inbound")),
    "a person and the null path": (("From: ada@example.com, <>", TO_ME, "Subject: Hi"),
                                   (False, False, False, False, "inbound")),
    "no From": ((TO_ME, "Subject: Hi"), (False, False, False, False, "inbound")),
    "no Subject": ((PERSON, TO_ME), (False, False, False, False, "inbound")),
    "an empty Subject": ((PERSON, TO_ME, "Subject: "), (False, False, False, False, "inbound")),
    "auto-submitted auto-replied": ((PERSON, TO_ME, "Subject: Hi",
                                     "Auto-Submitted:  Auto-Replied (vacation)"),
                                    (False, True, False, True, "auto_reply")),
    "auto-submitted auto-generated": ((PERSON, TO_ME, "Subject: Hi",
                                       "Auto-Submitted: auto-generated"),
                                      (False, False, False, True, "automated")),
    "auto-submitted no": ((PERSON, TO_ME, "Subject: Hi", "Auto-Submitted: No "),
                          (False, False, False, False, "inbound")),
    "auto-submitted empty": ((PERSON, TO_ME, "Subject: Hi", "Auto-Submitted:  "),
                             (False, False, False, False, "inbound")),
    "x-autoreply": ((PERSON, TO_ME, "Subject: Hi", "X-Autoreply: yes"),
                    (False, True, False, False, "auto_reply")),
    "x-autorespond": ((PERSON, TO_ME, "Subject: Hi", "X-Autorespond: yes"),
                      (False, True, False, False, "auto_reply")),
    "precedence auto_reply": ((PERSON, TO_ME, "Subject: Hi", "Precedence:  Auto_Reply "),
                              (False, True, False, False, "auto_reply")),
    "suppress alone": ((PERSON, TO_ME, "Subject: Hi", "X-Auto-Response-Suppress: All"),
                       (False, False, False, False, "inbound")),
    "suppress and subject": ((PERSON, TO_ME, "Subject: Automatic reply: Hi",
                              "X-Auto-Response-Suppress: All"),
                             (False, True, False, False, "auto_reply")),
    "list-id": ((PERSON, TO_ME, "Subject: Hi", "List-Id: <news.example.com>"),
                (False, False, True, False, "list")),
    "list-unsubscribe": ((PERSON, TO_ME, "Subject: Hi",
                          "List-Unsubscribe: <mailto:u@example.com>"),
                         (False, False, True, False, "list")),
    "precedence bulk": ((PERSON, TO_ME, "Subject: Hi", "Precedence: Bulk "),
                        (False, False, True, False, "list")),
    "precedence list": ((PERSON, TO_ME, "Subject: Hi", "Precedence: list"),
                        (False, False, True, False, "list")),
    "precedence junk": ((PERSON, TO_ME, "Subject: Hi", "Precedence: junk"),
                        (False, False, True, False, "list")),
    "precedence first-class": ((PERSON, TO_ME, "Subject: Hi", "Precedence: first-class"),
                               (False, False, False, False, "inbound")),
    "list auto-reply": ((PERSON, TO_ME, "Subject: Out of office", "List-Id: <l.example>"),
                        (False, True, True, False, "list")),
    "automated auto-reply": ((PERSON, TO_ME, "Subject: Out of office",
                              "Auto-Submitted: auto-replied"),
                             (False, True, False, True, "auto_reply")),
    "ours to a person": ((f"From: {ME}", "To: ada@example.com", "Subject: Hi"),
                         (False, False, False, False, "outbound")),
    "ours, cc a person": ((f"From: {ME}", "To: bo@team.ours.example",
                           "Cc: ada@example.com", "Subject: Hi"),
                          (False, False, False, False, "outbound")),
    "ours to ours": ((f"From: {ME}", "To: bo@team.ours.example", "Subject: Hi"),
                     (False, False, False, False, "internal")),
    "our domain to ours": (("From: bo@team.ours.example", f"To: {ME}", "Subject: Hi"),
                           (False, False, False, False, "internal")),
    "a sub-domain is not ours": (("From: bo@x.team.ours.example", f"To: {ME}",
                                  "Subject: Hi"), (False, False, False, False, "inbound")),
    "ours, auto-reply": ((f"From: {ME}", "To: ada@example.com", "Subject: Out of office"),
                         (False, True, False, False, "automated")),
    "ours, automated": ((f"From: {ME}", "To: ada@example.com", "Subject: Hi",
                         "Auto-Submitted: auto-generated"),
                        (False, False, False, True, "automated")),
    "ours, a list": ((f"From: {ME}", "To: ada@example.com", "Subject: Hi",
                      "List-Id: <l.example>"), (False, False, True, False, "outbound")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_header_mark_gives_its_verdicts(name):
    lines, expected = CASES[name]
    assert _verdicts(_env(*lines)) == expected


@pytest.mark.parametrize(("lines", "kind"), [
    (("From: ada@example.com", "To: bo@example.org", "Subject: Hi"), "outbound"),
    (("From: ada@example.com", "To: bo@example.org", "Subject: Out of office"), "automated"),
    (("From: noreply@example.com", "To: bo@example.org", "Subject: Hi"), "automated"),
    (("From: ada@example.com", f"To: {ME}", "Subject: Hi"), "outbound"),
    ((f"From: {ME}", f"To: {ME}", "Subject: Hi"), "internal"),
    ((f"From: {ME}", "Subject: Hi"), "internal"),
])
def test_in_the_sent_folder_mail_is_outbound_unless_automated_or_internal(lines, kind):
    assert str(cls.classify(cls.mark(_env(*lines, sent=True)), OWN)) == kind


def test_a_message_with_failures_is_a_bounce_whatever_its_headers():
    env = cls.mark(_env(f"From: {ME}", "To: ada@example.com", "Subject: Hi"))
    env.failures = [cls.Failure("ada@example.com", True, None)]
    assert cls.classify(env, OWN) is cls.Kind.BOUNCE


def test_mark_keeps_the_flags_and_drops_the_headers():
    env = cls.mark(_env(PERSON, TO_ME, "Subject: Out of office", "List-Id: <l.example>",
                        "Auto-Submitted: auto-replied"))
    assert (env.flags, env.headers) == (frozenset({"auto_reply", "list", "automated"}), {})


@pytest.mark.parametrize(("addr", "own"), [
    (ME, True), ("bo@team.ours.example", True), ("ada@example.com", False),
    ('"bo@home"@team.ours.example', True), ('"me@ours.example"@example.com', False),
    ("me@ours.example.org", False), ("team.ours.example", False), (None, False), ("", False),
])
def test_our_own_addresses_are_listed_or_at_a_listed_domain(addr, own):
    assert cls.is_own(addr, OWN) is own

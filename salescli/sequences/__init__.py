"""Follow-up sequences: named plans of mails and tasks, enrolments, and the send job."""

"""The email monitor: mailboxes in, exact email history per prospect out (see scan.py)."""

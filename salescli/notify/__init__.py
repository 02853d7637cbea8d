"""Layer 2: the notification outbox, the messages it sends and the SMTP client."""

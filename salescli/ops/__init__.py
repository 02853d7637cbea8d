"""Layer 1: running jobs (locks, history), health, backups and maintenance."""

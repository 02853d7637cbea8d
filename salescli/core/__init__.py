"""Layer 0: the database, its schema and migrations, audit, errors, enums, time, output."""

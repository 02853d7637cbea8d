"""salescli: a sales-pipeline toolkit over one SQLite database."""

__version__ = "0.1.0"

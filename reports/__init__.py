"""Reports: the data a report shows (``data``), its charts (``charts``), formatting
helpers (``formats``) and rendering (``render``), beside the bundled Jinja2 templates
(``templates/``) and the Datasette dashboard configuration (``datasette.yml``).

Top-level in the repository, shipped as ``salescli.reports`` (see ``package_dir``).
"""

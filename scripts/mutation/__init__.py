"""`./dev mutants` (scripts/mutants.py): mutation testing with mutmut, in modules by step.

config (settings and paths), stage (build/mutmut/ and mutmut's config), selection (which
mutants), sqlcase (the SQL-case equivalence rule), run (driving mutmut), report (scores and
survivors), cli (the command line).
"""

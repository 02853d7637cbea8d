"""Tasks: follow-ups for people (call Ana on Thursday), by hand or from a sequence step."""

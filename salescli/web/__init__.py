"""Layer 2: the Datasette server and plugin, sign-in, tokens, roles, users, credentials."""

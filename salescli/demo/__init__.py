"""Layer 3: the demo database that `salescli demo` builds."""

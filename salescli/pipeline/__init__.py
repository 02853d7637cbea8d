"""Layer 1: prospects, stages, interactions and their timeline, import and erasure."""

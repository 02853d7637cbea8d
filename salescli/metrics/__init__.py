"""Layer 1: the daily rollup of the pipeline and the calendar days it counts in."""

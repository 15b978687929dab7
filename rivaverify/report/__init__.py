"""What a run's report says first: the verdict, what was verified, the key figures (named in figures) against
their bounds (summary), and how they went over the earlier runs of the same name (history); the SVG charts and
tables it shows (charts). Computed here, rendered by plugins/summary.py."""

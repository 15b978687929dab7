"""What a run's report says first: the verdict, what was verified, the key figures against their bounds
(summary), and how they went over the earlier runs of the same name (history). Computed here, rendered by
plugins/summary.py."""

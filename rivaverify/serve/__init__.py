"""Continuous verification (`rivaverify serve`): checks.py runs the smoke verdicts once, scheduler.py on an interval,
app.py serves /healthz, /metrics (metrics.py) and a page (page.py)."""

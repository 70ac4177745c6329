"""Demographic bias audit: NIST IR 8280-style per-group error rates, fairness summaries with
identity-bootstrap intervals, ``report.json``/``report.html`` and a gate (issue 3)."""

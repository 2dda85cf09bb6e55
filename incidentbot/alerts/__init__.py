"""Alerts in (PRODUCT.md §9): monitoring posts alerts, people see one triage message per group.

config.py    `[alerts]` models (pydantic)
sources.py   request bodies of each source kind → normalised alerts (pure)
routing.py   which route takes an alert, and its group key (pure)
rules.py     group state: transitions, flapping, what to tell whom (pure)
blocks.py    Block Kit of the triage message, digests and reports (pure)
service.py   use cases: ingest, the timers that carry notifications out, actions
endpoint.py  `POST /alerts/<source>`: auth, size, parse, ingest, 202
"""

"""Pure rules of incident response: parsing, naming, transitions, rendering.

Nothing in this package talks to Slack, the database or the scheduler, and no
function reads the clock: `now` is always a parameter.
"""

"""Use cases: load, apply domain rules, save, then tell Slack through the gateway."""

"""Use cases: load, apply domain rules, save the change and its consequences in one
transaction, then tell Slack through the gateway. Every service is built from one
`Deps` (services/deps.py) and returns an `Outcome` (domain/outcome.py)."""

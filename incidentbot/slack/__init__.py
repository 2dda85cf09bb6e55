"""The Slack edge: Web API gateway, Block Kit builders, ids and listeners."""

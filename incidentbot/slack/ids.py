"""Every action_id, callback_id and block_id the bot uses, in one place."""

# Buttons
TAKE_IC = "incident.take_ic"
TAKE_SCRIBE = "incident.take_scribe"
OPEN_RESOLVE = "incident.open_resolve"

# Modals (callback ids)
DECLARE_VIEW = "incident.declare"
RESOLVE_VIEW = "incident.resolve"
ROLES_VIEW = "incident.roles"

# Input blocks (block_id == action_id inside the block, for simplicity)
TITLE = "title"
SEVERITY = "severity"
DESCRIPTION = "description"
IC = "ic"
SCRIBE = "scribe"
PRIVATE = "private"
SUMMARY = "summary"
ROLE_PREFIX = "role:"

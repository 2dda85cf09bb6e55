"""Every action_id, callback_id and block_id the bot uses, in one place."""

# Buttons
TAKE_IC = "incident.take_ic"
TAKE_SCRIBE = "incident.take_scribe"
HAND_OVER = "incident.hand_over"  # value: "<number>:<role>:<user>"
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

# Escalation
ESCALATE = "incident.escalate"  # welcome-message button: same as `/incident escalate`
ACK_PAGE = "escalation.ack"
JOIN_CHANNEL = "escalation.join"
ESCALATE_VIEW = "escalation.pick"
PATH = "path"

# Stakeholder updates, reminders and App Home
OPEN_UPDATE = "incident.open_update"  # welcome message and reminder: opens the update modal
SNOOZE_UPDATE = "update.snooze."  # + minutes: reminder buttons (ids unique per block)
UPDATE_VIEW = "incident.update"
UPDATE_STATUS = "update_status"
UPDATE_IMPACT = "update_impact"
UPDATE_DOING = "update_doing"
UPDATE_NEXT = "update_next"
HOME_DECLARE = "home.declare"

# Timeline, follow-ups (message shortcut: the callback_id in manifest.yml)
LOG_MESSAGE = "timeline.log_message"
LOG_MESSAGE_VIEW = "timeline.pick_incident"
ENTRY_MENU = "timeline.entry."  # + entry id: the ⋯ menu of each entry (ids unique per message)
EDIT_ENTRY_VIEW = "timeline.edit_entry"
DELETE_ENTRY_VIEW = "timeline.delete_entry"
OPEN_FOLLOW_UP = "timeline.open_follow_up"
FOLLOW_UP_VIEW = "timeline.follow_up"
PICK_INCIDENT = "pick_incident"
ENTRY_TEXT = "entry_text"
FOLLOW_UP_TEXT = "follow_up_text"
FOLLOW_UP_OWNER = "follow_up_owner"

# Alerts (PRODUCT.md §9): buttons of the triage message, page DMs and incident channel
ALERT_DECLARE = "alerts.declare"  # opens the declare modal pre-filled from the group
ALERT_ACK = "alerts.ack"
ALERT_SILENCE = "alerts.silence"  # static select: 1h / 4h / 24h
ALERT_RESOLVE = "alerts.resolve"
ALERT_MONITORING = "alerts.move_to_monitoring"

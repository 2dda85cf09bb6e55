"""The playground: a local Slack-like workspace that plays Slack's part for the real bot.

- `standin.SlackStandIn`: a stateful Slack Web API stand-in served over HTTP on
  127.0.0.1 (channels, members, messages, views, files), answering with Slack's
  real error codes. The test suite uses it as its Slack; `python app.py
  --playground` shows it in a browser.
- `client.SlackSender`: sends correctly signed Slack requests (slash commands,
  interactivity, events) to the bot's `/slack/events`, as Slack does.
"""

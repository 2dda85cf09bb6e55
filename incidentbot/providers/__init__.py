"""Paging providers: PagerDuty (Events API v2, webhooks v3) and Opsgenie (Alert API,
outgoing webhooks). See PRODUCT.md §10 and the README's "Paging through PagerDuty
and Opsgenie"."""

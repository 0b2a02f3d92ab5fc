"""Business events (issue 9): what happened, recorded once, for the rules engine.

- ``models``: Event (append-only) and EventSource (the event API's callers and their secrets)
- ``catalogue``: the event types, their template variables and payload builders
- ``services``: ``record_event`` (the one way in) and the ``event_recorded`` signal
- ``api``, ``signatures``, ``openapi``, ``views``, ``urls``: the signed event API
- ``admin``, ``crypto``: the admin pages and the secrets' encryption at rest
"""

"""Signals other apps connect to, so templates_app depends on nothing of theirs."""

from django.dispatch import Signal

# Sent when a staff member asks for "Testversand an mich" of a rendered email.
# Arguments: user, brand (BusinessEntity or None), subject, text, html.
# A receiver that queues the email returns a truthy value.
test_send_requested = Signal()

"""Signals other apps connect to, so conversations depends on nothing of theirs.

``message_ingested`` is sent by ``conversations.ingest`` **after the transaction that
stored the messages commits**, once per ``ingest_raw_email`` call and once per batch of
``ingest_raw_emails`` (not per message: the batch path stays a handful of queries), with
``results``: the batch's ``IngestResult`` objects that stored a message (duplicates are
left out), each with ``brand`` (a routed batch may hold several), ``message``,
``conversation`` and ``new_conversation``.

It is sent with ``send_robust``: a failing receiver is logged and never stops ingestion
(the mail is stored already). kommunikation turns it into ``message.received`` and
``conversation.created`` events (kommunikation/events/inbound.py).

``outbound_status_recorded`` is sent by ``conversations.outbound.record_status`` each time
a status is new on a message's timeline (never for a repeat), **inside** the transaction
that records it, with ``message``, ``status``, ``at`` and ``detail``: whatever a receiver
does commits or rolls back with the status. kommunikation moves a fallback chain on from it
(kommunikation/fallback.py: delivered stops the chain, failed or bounced tries the next
channel). Sent with ``send``: a failing receiver fails the status change (a webhook answers
an error and the provider delivers it again), so nothing is half done.
"""

from django.dispatch import Signal

message_ingested = Signal()
outbound_status_recorded = Signal()

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
"""

from django.dispatch import Signal

message_ingested = Signal()

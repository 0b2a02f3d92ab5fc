"""sevDesk integration: client, sync (contacts, invoices, orders -> events), overdue scan,
segmentation. See sync.py for the event keys and the first-sync guard."""

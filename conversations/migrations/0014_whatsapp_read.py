"""WhatsApp's read receipts as their own status ("gelesen", no longer "geöffnet"), and the
claim time of a webhook delivery (batched WhatsApp processing)."""

from django.db import migrations, models


def opened_to_read(apps, schema_editor):
    # WhatsApp has no tracking pixel: every "opened" of a WhatsApp message was a read receipt
    Message = apps.get_model("conversations", "Message")
    StatusChange = apps.get_model("conversations", "StatusChange")
    Message.objects.filter(channel="whatsapp", status="opened").update(status="read")
    StatusChange.objects.filter(message__channel="whatsapp", status="opened").update(status="read")


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0013_mailbox_oauth2"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="in Bearbeitung seit"),
        ),
        migrations.AlterField(
            model_name="message",
            name="status",
            field=models.CharField(
                blank=True,
                choices=[
                    ("received", "empfangen"),
                    ("queued", "in Warteschlange"),
                    ("sent", "gesendet"),
                    ("delivered", "zugestellt"),
                    ("read", "gelesen"),
                    ("opened", "geöffnet"),
                    ("clicked", "geklickt"),
                    ("bounced", "unzustellbar"),
                    ("failed", "fehlgeschlagen"),
                ],
                max_length=10,
                verbose_name="Status",
            ),
        ),
        migrations.AlterField(
            model_name="statuschange",
            name="status",
            field=models.CharField(
                choices=[
                    ("received", "empfangen"),
                    ("queued", "in Warteschlange"),
                    ("sent", "gesendet"),
                    ("delivered", "zugestellt"),
                    ("read", "gelesen"),
                    ("opened", "geöffnet"),
                    ("clicked", "geklickt"),
                    ("bounced", "unzustellbar"),
                    ("failed", "fehlgeschlagen"),
                ],
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="state",
            field=models.CharField(
                choices=[
                    ("received", "empfangen"),
                    ("processing", "in Bearbeitung"),
                    ("ok", "verarbeitet"),
                    ("rejected", "abgelehnt"),
                    ("failed", "fehlgeschlagen"),
                ],
                default="received",
                max_length=10,
                verbose_name="Status",
            ),
        ),
        migrations.RunPython(opened_to_read, migrations.RunPython.noop),
    ]

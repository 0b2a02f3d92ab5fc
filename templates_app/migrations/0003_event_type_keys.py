"""Event type keys as in kommunikation.events.catalogue (issue 9).

birthday, anniversary and season.greeting got their family prefix; order.on_hold and
order.completed are statuses of order.status_changed (seed 002's status triggers).
"""

from django.db import migrations

RENAMED = {
    "birthday": "customer.birthday",
    "anniversary": "customer.anniversary",
    "season.greeting": "seasonal.greeting",
    "order.on_hold": "order.status_changed",
    "order.completed": "order.status_changed",
}


def forwards(apps, schema_editor):
    MessageTemplate = apps.get_model("templates_app", "MessageTemplate")
    for old, new in RENAMED.items():
        MessageTemplate.objects.filter(event_type=old).update(event_type=new)


def backwards(apps, schema_editor):
    MessageTemplate = apps.get_model("templates_app", "MessageTemplate")
    for old, new in RENAMED.items():
        if new != "order.status_changed":
            MessageTemplate.objects.filter(event_type=new).update(event_type=old)


class Migration(migrations.Migration):
    dependencies = [("templates_app", "0002_category_order")]

    operations = [migrations.RunPython(forwards, backwards)]

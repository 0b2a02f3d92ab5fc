from django.db import migrations

from kommunikation.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("kommunikation", "0003_outbox"),
        ("kommunikation", "0003_roles_templates"),
        ("compliance", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]

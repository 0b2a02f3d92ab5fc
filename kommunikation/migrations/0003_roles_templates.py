from django.db import migrations

from kommunikation.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("kommunikation", "0002_roles"),
        ("templates_app", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]

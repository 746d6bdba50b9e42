"""Failed-login counters, and the database cache table that DRF's throttles count in."""

from django.core.management import call_command
from django.db import migrations, models


def create_cache_table(apps, schema_editor):
    # Creates the table of every DatabaseCache in settings.CACHES (``glassbox_cache``); it
    # skips tables that exist, and does nothing when the cache is configured elsewhere.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_roles")]

    operations = [
        migrations.CreateModel(
            name="LoginThrottle",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("username", "Username"), ("address", "Address")], max_length=8
                    ),
                ),
                ("key", models.CharField(max_length=64)),
                ("failures", models.PositiveIntegerField(default=0)),
                ("window_started", models.DateTimeField()),
                ("locked_until", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("kind", "key"), name="accounts_login_throttle_key"
                    )
                ],
                "indexes": [
                    models.Index(fields=["locked_until"], name="accounts_login_locked_idx")
                ],
            },
        ),
        migrations.RunPython(create_cache_table, migrations.RunPython.noop),
    ]

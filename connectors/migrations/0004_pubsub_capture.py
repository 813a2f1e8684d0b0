import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("connectors", "0003_error_message_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="objectmapping",
            name="capture_mode",
            field=models.CharField(
                choices=[("polling", "Polling (SOQL on SystemModstamp)"), ("cdc", "Change Data Capture (Pub/Sub API)")],
                default="polling",
                help_text="Polling reads changed records every poll interval; Change Data Capture streams "
                "<Object>ChangeEvent from the Pub/Sub API (enable CDC for the object in Setup first).",
                max_length=10,
                verbose_name="Salesforce capture",
            ),
        ),
        migrations.AddField(
            model_name="salesforceorg",
            name="pubsub_endpoint",
            field=models.CharField(
                default="api.pubsub.salesforce.com:7443",
                help_text="host:port of the Pub/Sub API (gRPC) used by Change Data Capture; the emulator prints its own.",
                max_length=255,
                verbose_name="Pub/Sub API endpoint",
            ),
        ),
        migrations.CreateModel(
            name="ReplayCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("topic", models.CharField(help_text="e.g. /data/AccountChangeEvent", max_length=255)),
                ("replay_id", models.CharField(blank=True, help_text="Hex; Salesforce keeps events 72 hours.", max_length=200)),
                ("events_published", models.BigIntegerField(default=0)),
                ("lease_owner", models.CharField(blank=True, max_length=200)),
                ("lease_expires", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "mapping",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="replay_checkpoint",
                        to="connectors.objectmapping",
                    ),
                ),
            ],
        ),
    ]

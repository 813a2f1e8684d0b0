import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("connectors", "0004_pubsub_capture"),
    ]

    operations = [
        migrations.CreateModel(
            name="SchemaDrift",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("field", models.CharField(max_length=100, verbose_name="Salesforce field")),
                ("kind", models.CharField(choices=[("added", "Field added in Salesforce"),
                                                   ("removed", "Mapped field removed from Salesforce"),
                                                   ("changed", "Mapped field changed type")], max_length=10)),
                ("old_type", models.CharField(blank=True, max_length=32)),
                ("new_type", models.CharField(blank=True, max_length=32)),
                ("detected_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("accepted", models.BooleanField(db_index=True, default=False)),
                ("accepted_at", models.DateTimeField(blank=True, null=True)),
                ("mapping", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="schema_drift",
                                              to="connectors.objectmapping")),
            ],
            options={
                "verbose_name_plural": "schema drift",
                "ordering": ["mapping_id", "field"],
            },
        ),
        migrations.CreateModel(
            name="SchemaSnapshot",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("fields", models.JSONField(default=dict)),
                ("checked_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("mapping", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                                 related_name="schema_snapshot", to="connectors.objectmapping")),
            ],
        ),
    ]

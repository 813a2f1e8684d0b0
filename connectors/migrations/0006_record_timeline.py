import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0005_schema_drift'),
    ]

    operations = [
        migrations.CreateModel(
            name='RecordEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('salesforce_id', models.CharField(blank=True, db_index=True, max_length=18)),
                ('mongo_id', models.CharField(blank=True, db_index=True, max_length=100)),
                ('source', models.CharField(choices=[('salesforce', 'Salesforce'), ('mongodb', 'MongoDB'), ('console', 'Console')], max_length=12)),
                ('outcome', models.CharField(choices=[('applied', 'Applied'), ('merged', "Merged with the other side's changes"), ('deleted', 'Deleted'), ('echo', "Echo of the sync's own write, dropped"), ('stale', 'Older than what the target holds, skipped'), ('superseded', 'Superseded by a newer change in the same batch'), ('ignored', "Ignored by the mapping's settings"), ('conflict', 'Conflict'), ('held', 'Held behind an open conflict'), ('error', 'Error'), ('resolved', 'Conflict resolved')], max_length=12)),
                ('operation', models.CharField(blank=True, help_text='upsert or delete, as captured.', max_length=12)),
                ('source_version', models.CharField(blank=True, help_text='SystemModstamp, CDC replay id or MongoDB cluster time.', max_length=64)),
                ('topic', models.CharField(blank=True, max_length=255)),
                ('partition', models.IntegerField(blank=True, null=True)),
                ('offset', models.BigIntegerField(blank=True, null=True)),
                ('fields', models.JSONField(default=list, help_text='The fields the change carried or wrote.')),
                ('detail', models.TextField(blank=True)),
                ('event_id', models.CharField(blank=True, max_length=64)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('mapping', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='record_events', to='connectors.objectmapping')),
            ],
            options={
                'ordering': ['created_at', 'id'],
            },
        ),
    ]

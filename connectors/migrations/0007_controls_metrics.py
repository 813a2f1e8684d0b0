import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0006_record_timeline'),
    ]

    operations = [
        migrations.AddField(
            model_name='capturecheckpoint',
            name='backfill_requested',
            field=models.BooleanField(default=False, help_text='Set by a backfill job; the capture worker restarts from the beginning and clears it.'),
        ),
        migrations.AddField(
            model_name='objectmapping',
            name='paused',
            field=models.BooleanField(default=False, help_text="Held from the console: capture stops and apply leaves the mapping's topics unread, so resuming catches up from the checkpoints with nothing lost."),
        ),
        migrations.CreateModel(
            name='MetricSample',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('taken_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('interval_seconds', models.FloatField(default=0.0)),
                ('sf_published_total', models.BigIntegerField(default=0)),
                ('mongo_published_total', models.BigIntegerField(default=0)),
                ('sf_to_mongo_events', models.BigIntegerField(default=0, help_text='Salesforce changes captured since the last sample.')),
                ('mongo_to_sf_events', models.BigIntegerField(default=0, help_text='MongoDB changes captured since the last sample.')),
                ('sf_to_mongo_lag', models.BigIntegerField(blank=True, help_text='Kafka messages not yet applied.', null=True)),
                ('mongo_to_sf_lag', models.BigIntegerField(blank=True, null=True)),
                ('sf_to_mongo_behind_seconds', models.FloatField(blank=True, null=True)),
                ('mongo_to_sf_behind_seconds', models.FloatField(blank=True, null=True)),
                ('api_used', models.IntegerField(blank=True, null=True)),
                ('api_limit', models.IntegerField(blank=True, null=True)),
                ('mapping', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='metric_samples', to='connectors.objectmapping')),
            ],
            options={
                'ordering': ['taken_at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='SyncJob',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('backfill', 'Backfill from Salesforce'), ('reconcile', 'Reconcile both sides')], max_length=12)),
                ('state', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], db_index=True, default='queued', max_length=10)),
                ('progress_done', models.BigIntegerField(default=0)),
                ('progress_total', models.BigIntegerField(blank=True, null=True)),
                ('message', models.TextField(blank=True)),
                ('requested_by', models.CharField(blank=True, max_length=150)),
                ('claimed_by', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('mapping', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='jobs', to='connectors.objectmapping')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
    ]

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0007_controls_metrics'),
    ]

    operations = [
        migrations.CreateModel(
            name='EventRelay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.SlugField(unique=True)),
                ('channel', models.CharField(help_text='A platform event channel, e.g. /event/Order_Update__e.', max_length=255)),
                ('collection', models.CharField(max_length=100, verbose_name='MongoDB collection')),
                ('enabled', models.BooleanField(default=True)),
                ('replay_id', models.CharField(blank=True, editable=False, max_length=64)),
                ('events_relayed', models.BigIntegerField(default=0, editable=False)),
                ('events_stored', models.BigIntegerField(default=0, editable=False)),
                ('last_event_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('lease_owner', models.CharField(blank=True, editable=False, max_length=200)),
                ('lease_expires', models.DateTimeField(blank=True, editable=False, null=True)),
                ('kafka', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='relays', to='connectors.kafkacluster')),
                ('mongo', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='relays', to='connectors.mongotarget')),
                ('org', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='relays', to='connectors.salesforceorg')),
            ],
        ),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0015_roles_audit'),
    ]

    operations = [
        migrations.AddField(
            model_name='capturecheckpoint',
            name='reread_bulk_job',
            field=models.CharField(blank=True, max_length=18),
        ),
        migrations.AddField(
            model_name='capturecheckpoint',
            name='reread_bulk_locator',
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name='capturecheckpoint',
            name='reread_bulk_row',
            field=models.IntegerField(default=0),
        ),
    ]

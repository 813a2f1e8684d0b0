"""The audit trail (AuditEntry, with the console's two permissions) and the role groups
(connectors.roles). Staff users of an upgraded installation join Operators: before roles, every
staff user could do all that an operator can."""
import django.core.serializers.json
import django.utils.timezone
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

from connectors.roles import OPERATORS, ensure_role_groups


def create_role_groups(apps, schema_editor):
    # Django creates permissions only after the whole migrate run; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    ensure_role_groups(Group, Permission)
    operators = Group.objects.get(name=OPERATORS)
    for user in apps.get_model("auth", "User").objects.filter(is_staff=True, is_superuser=False):
        user.groups.add(operators)


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0014_capture_mode_help_text'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('user', models.CharField(db_index=True, help_text='The username, kept as text.', max_length=150)),
                ('via', models.CharField(choices=[('console', 'Console'), ('api', 'REST API'), ('admin', 'Admin')], max_length=10)),
                ('action', models.CharField(choices=[('pause', 'Paused a mapping'), ('resume', 'Resumed a mapping'), ('backfill', 'Queued a backfill'), ('reconcile', 'Queued a reconcile'), ('resolve', 'Resolved a conflict'), ('retry', 'Retried an error'), ('discard', 'Discarded an error'), ('add', 'Added in the admin'), ('change', 'Changed in the admin'), ('delete', 'Deleted in the admin')], db_index=True, max_length=12)),
                ('mapping', models.CharField(blank=True, db_index=True, help_text="The mapping's name, if any.", max_length=100)),
                ('target', models.CharField(help_text="What was acted on, e.g. 'conflict 12' or 'mongo target prod'.", max_length=200)),
                ('record_key', models.CharField(blank=True, db_index=True, help_text='The record concerned: its Salesforce Id, or its MongoDB _id.', max_length=100)),
                ('record_alias', models.CharField(blank=True, db_index=True, help_text="The record's other id, when both are known.", max_length=100)),
                ('details', models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder)),
            ],
            options={
                'verbose_name_plural': 'audit entries',
                'ordering': ['-at', '-id'],
                'permissions': [('view_console', 'Can read the console, the REST API and the live status'), ('operate_sync', 'Can pause, resume, backfill, reconcile, resolve conflicts and retry or discard errors')],
                'default_permissions': ('view',),
            },
        ),
        migrations.RunPython(create_role_groups, migrations.RunPython.noop),
    ]

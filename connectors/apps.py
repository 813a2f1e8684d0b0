from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Sync connections and mappings"

    def ready(self) -> None:
        from connectors.roles import on_post_migrate

        # After Django has created this app's permissions: the role groups, if missing (connectors.roles).
        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="connectors.roles")

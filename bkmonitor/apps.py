from django.apps import AppConfig


class BkmonitorConfig(AppConfig):
    name = "bkmonitor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bkmonitor import signals  # noqa: F401  (connects the receivers)

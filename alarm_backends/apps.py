from django.apps import AppConfig


class AlarmBackendsConfig(AppConfig):
    name = "alarm_backends"
    default_auto_field = "django.db.models.BigAutoField"

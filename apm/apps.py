from django.apps import AppConfig


class ApmConfig(AppConfig):
    name = "apm"
    default_auto_field = "django.db.models.BigAutoField"

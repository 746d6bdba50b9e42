"""Operations: the dashboard, the health of the dependencies, Prometheus metrics, and the
structured logs' context; an open up-or-down endpoint for probes."""

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (Celery's signals: log context, metrics, counts)

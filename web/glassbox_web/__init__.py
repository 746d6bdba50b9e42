"""The Glassbox Django project. Importing it makes the Celery app the current app."""

from .celery import app as celery_app

__all__ = ["celery_app"]

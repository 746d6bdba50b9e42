"""WSGI entry point (gunicorn glassbox_web.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "glassbox_web.settings")

application = get_wsgi_application()

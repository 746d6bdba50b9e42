# The app image: Django web (gunicorn), the Celery worker and the one-shot migrate job all run
# from it; docker-compose.yml picks the command.
#
#   docker build -f infra/docker/Dockerfile.app -t glassbox/app .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=glassbox_web.settings \
    GLASSBOX_VAR_DIR=/var/lib/glassbox

WORKDIR /app

# Dependencies first (cached while only the code changes). Wheels exist for every pin on
# linux/amd64 + CPython 3.11, so no compiler is installed.
COPY requirements/app.txt requirements/app.txt
RUN python -m pip install -r requirements/app.txt

COPY services/ services/
RUN python -m pip install ./services && rm -rf services/build

COPY web/ web/
WORKDIR /app/web

# Static files are collected at build time and served by whitenoise. The key below exists
# only for this RUN; the real one comes from GLASSBOX_SECRET_KEY at run time.
RUN GLASSBOX_SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput

# Non-root; the media volume is mounted at GLASSBOX_VAR_DIR, created here so a fresh named
# volume inherits this ownership.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin glassbox \
 && mkdir -p /var/lib/glassbox/media \
 && chown -R glassbox:glassbox /var/lib/glassbox
USER glassbox

EXPOSE 8000
CMD ["gunicorn", "glassbox_web.wsgi:application", "--bind=0.0.0.0:8000", "--access-logfile=-"]

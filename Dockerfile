# The application image: web (gunicorn), worker and beat all run from it (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    DATA_DIR=/app/data

# The processes run as this unprivileged account; the code stays owned by root (read-only to it).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app

# The pinned requirements first: this layer is rebuilt only when they change.
COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt

COPY . .

# Static files are collected into the image (served by WhiteNoise). Production settings
# need a key and a host to load: a throwaway key made here, used for nothing else.
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    DJANGO_ALLOWED_HOSTS=build.invalid SITE_URL=https://build.invalid \
    python manage.py collectstatic --no-input --verbosity 0 \
    && mkdir -p /app/data/outbox /app/data/mail \
    && chown -R app:app /app/data

USER app
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]

"""The Celery application `config` (`celery -A config worker`)."""

import os

from celery import Celery, signals

from config.env import require_secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_without_secret_key(**kwargs) -> None:
    require_secret_key()

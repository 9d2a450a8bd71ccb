"""Settings refuse what would be unsafe in production, without blocking offline commands."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
        timeout=60,
    )


def test_the_servers_refuse_to_start_without_a_secret_key_in_production():
    for module in ("config.wsgi", "config.asgi"):
        result = _run(f"import {module}", DEBUG="false")
        assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_a_server_starts_with_a_secret_key():
    assert _run("import config.wsgi", DEBUG="false", SECRET_KEY="k" * 50).returncode == 0


@pytest.mark.parametrize("value", ["yes", "maybe", "2"])
def test_an_ambiguous_debug_value_stops_the_process(value):
    result = _run("import django; django.setup()", DEBUG=value, DJANGO_SETTINGS_MODULE="config.settings")
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr


@pytest.mark.parametrize("value", ["lots", "600", "600/minute", "/m"])
def test_an_open311_rate_that_is_not_count_per_period_stops_the_process(value):
    result = _run("import django; django.setup()", MINHU_OPEN311_RATE=value, DEBUG="true",
                  DJANGO_SETTINGS_MODULE="config.settings")
    assert result.returncode != 0 and "MINHU_OPEN311_RATE" in result.stderr

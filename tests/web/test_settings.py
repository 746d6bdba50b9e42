"""The Django settings come from glassbox.config (WebSettings): the README's defaults, and
the same refusals as ever for a missing secret key or a malformed boolean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from glassbox.config import ConfigError, WebSettings, load_web_settings

WEB = Path(__file__).resolve().parents[2] / "web"
SERVICES = WEB.parent / "services"


def django_settings(**env: str) -> subprocess.CompletedProcess:
    """Load glassbox_web.settings in a fresh interpreter with only these GLASSBOX_* set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GLASSBOX_")}
    clean |= {"PYTHONPATH": f"{WEB}{os.pathsep}{SERVICES}", **env}
    code = "import glassbox_web.settings as s; print(s.DEBUG, s.ALLOWED_HOSTS, s.REDIS_URL)"
    return subprocess.run(
        [sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=60
    )


def test_web_settings_defaults_are_the_readmes():
    assert load_web_settings({}) == WebSettings(
        secret_key="",
        debug=False,
        allowed_hosts=("127.0.0.1", "localhost"),
        csrf_trusted_origins=(),
        database_url="",
        redis_url="redis://127.0.0.1:6380/0",
        task_max_retries=8,
        task_retry_backoff_max_s=300,
    )


def test_web_settings_parse_lists_booleans_and_numbers():
    web = load_web_settings(
        {
            "GLASSBOX_DEBUG": "Yes",
            "GLASSBOX_ALLOWED_HOSTS": " glassbox.example.org, localhost ,,",
            "GLASSBOX_CSRF_TRUSTED_ORIGINS": "https://glassbox.example.org",
            "GLASSBOX_TASK_MAX_RETRIES": "60",
        }
    )
    assert web.debug is True
    assert web.allowed_hosts == ("glassbox.example.org", "localhost")
    assert web.csrf_trusted_origins == ("https://glassbox.example.org",)
    assert web.task_max_retries == 60


def test_a_malformed_boolean_names_the_variable_and_the_accepted_words():
    with pytest.raises(ConfigError, match=r"GLASSBOX_DEBUG='maybe' is not a boolean \(use 1/0"):
        load_web_settings({"GLASSBOX_DEBUG": "maybe"})


def test_django_refuses_to_start_without_a_secret_key_unless_debugging():
    refused = django_settings()
    assert refused.returncode != 0
    assert "ImproperlyConfigured: GLASSBOX_SECRET_KEY is required" in refused.stderr
    debugging = django_settings(GLASSBOX_DEBUG="1")
    assert debugging.returncode == 0, debugging.stderr
    assert debugging.stdout.split() == [
        "True",
        "['127.0.0.1',",
        "'localhost']",
        "redis://127.0.0.1:6380/0",
    ]


def test_django_refuses_a_malformed_boolean():
    refused = django_settings(GLASSBOX_SECRET_KEY="k", GLASSBOX_DEBUG="maybe")
    assert refused.returncode != 0
    assert (
        "ImproperlyConfigured: GLASSBOX_DEBUG='maybe' is not a boolean (use 1/0, true/false)"
        in refused.stderr
    )

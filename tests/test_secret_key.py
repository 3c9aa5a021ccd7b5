"""The secret key: generated once per development machine, required in production."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.secret import resolve_secret_key

ROOT = Path(__file__).resolve().parents[1]


def test_a_development_machine_gets_a_random_key_kept_private_and_reused(tmp_path: Path) -> None:
    first = resolve_secret_key(None, var_dir=tmp_path, production=False)
    again = resolve_secret_key(None, var_dir=tmp_path, production=False)
    other_machine = resolve_secret_key(None, var_dir=tmp_path / "elsewhere", production=False)
    assert first == again
    assert len(first) >= 50 and other_machine != first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_a_key_file_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    resolve_secret_key(None, var_dir=tmp_path, production=False)
    (tmp_path / "secret_key").chmod(0o644)
    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        resolve_secret_key(None, var_dir=tmp_path, production=False)


def test_a_configured_key_wins_and_writes_nothing(tmp_path: Path) -> None:
    assert resolve_secret_key("from-the-environment", var_dir=tmp_path, production=True) == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def _settings_process(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SECRET_KEY")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "BKM_VAR_DIR": str(tmp_path), **extra})
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_a_production_database_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    result = _settings_process(tmp_path, DATABASE_URL="postgres://app@127.0.0.1:5432/app")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_two_starts_of_a_development_process_share_one_generated_key(tmp_path: Path) -> None:
    first, second = _settings_process(tmp_path), _settings_process(tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stdout.strip() == (tmp_path / "secret_key").read_text()


def test_the_required_flag_refuses_a_missing_key_even_on_sqlite(tmp_path: Path) -> None:
    result = _settings_process(tmp_path, BKM_REQUIRE_SECRET_KEY="1")
    assert result.returncode != 0 and "BKM_REQUIRE_SECRET_KEY" in result.stderr

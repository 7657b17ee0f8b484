from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.settings import Secret, is_local_host, load_settings, redact

OLD_NAMES = {
    "SOURCE_DB_HOST": "127.0.0.1",
    "SOURCE_DB_PORT": "5433",
    "SOURCE_DB_USER": "mdw_admin",
    "SOURCE_DB_PASSWORD": "s3cret-source-PW",
    "SOURCE_DB_NAME": "mdw_db",
    "TARGET_DB_HOST": "localhost",
    "TARGET_DB_PORT": "54322",
    "TARGET_DB_USER": "postgres",
    "TARGET_DB_PASSWORD": "s3cret-target-PW",
    "TARGET_DB_NAME": "postgres",
    "SUPABASE_URL": "http://localhost:8000",
    "SUPABASE_SERVICE_ROLE": "eyJ-service-role-key",
}


def test_earlier_scripts_variable_names(tmp_path: Path) -> None:
    settings = load_settings(environ=OLD_NAMES, cwd=tmp_path)
    assert settings.source.host == "127.0.0.1"
    assert settings.source.port == 5433
    assert settings.source.dbname == "mdw_db"
    assert settings.target.user == "postgres"
    assert settings.target.password.reveal() == "s3cret-target-PW"
    assert settings.supabase_url == "http://localhost:8000"
    assert settings.supabase_service_role.reveal() == "eyJ-service-role-key"


def test_database_urls_and_overrides(tmp_path: Path) -> None:
    env = {
        "SOURCE_DATABASE_URL": "postgresql://reader:pw1@127.0.0.1:6000/legacy",
        "TARGET_DATABASE_URL": "postgresql://postgres:pw2@127.0.0.1:6001/postgres",
        "TARGET_DB_PORT": "6002",
    }
    settings = load_settings(environ=env, cwd=tmp_path)
    assert (settings.source.user, settings.source.port, settings.source.dbname) == (
        "reader",
        6000,
        "legacy",
    )
    assert settings.target.port == 6002  # the separate variable wins over the URL's part


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text("\n".join(f"{k}={v}" for k, v in OLD_NAMES.items()))
    settings = load_settings(env_file, environ={"SOURCE_DB_NAME": "other"}, cwd=tmp_path)
    assert settings.source.dbname == "other"
    assert settings.target.dbname == "postgres"
    assert settings.env_file == env_file


def test_dot_env_then_sandbox_env_are_the_defaults(tmp_path: Path) -> None:
    (tmp_path / ".sandbox").mkdir()
    (tmp_path / ".sandbox" / "sandbox.env").write_text(
        "\n".join(f"{k}={v}" for k, v in OLD_NAMES.items())
    )
    assert load_settings(environ={}, cwd=tmp_path).env_file == tmp_path / ".sandbox/sandbox.env"
    (tmp_path / ".env").write_text("\n".join(f"{k}={v}" for k, v in OLD_NAMES.items()))
    assert load_settings(environ={}, cwd=tmp_path).env_file == tmp_path / ".env"


def test_missing_settings_name_the_variables(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"TARGET_DB_HOST": "x"}, cwd=tmp_path)
    assert "SOURCE_DB_HOST" in err.value.message
    assert err.value.hint
    assert "sandbox up" in err.value.hint


def test_dbt_log_level_is_info_unless_chosen(tmp_path: Path) -> None:
    assert load_settings(environ=OLD_NAMES, cwd=tmp_path).dbt_log_level == "info"
    chosen = load_settings(environ={**OLD_NAMES, "DIFFMIG_DBT_LOG_LEVEL": "Debug"}, cwd=tmp_path)
    assert chosen.dbt_log_level == "debug"
    with pytest.raises(ConfigError, match="DIFFMIG_DBT_LOG_LEVEL must be one of") as raised:
        load_settings(environ={**OLD_NAMES, "DIFFMIG_DBT_LOG_LEVEL": "verbose"}, cwd=tmp_path)
    assert "debug writes every statement" in (raised.value.hint or "")


def test_tuning_settings_have_defaults_and_are_checked(tmp_path: Path) -> None:
    plain = load_settings(environ=OLD_NAMES, cwd=tmp_path)
    assert (plain.keep_runs, plain.range_keys, plain.log_dir) == (5, None, None)
    assert plain.reports_dir is None
    assert plain.allow_insecure is False
    insecure = load_settings(environ={**OLD_NAMES, "DIFFMIG_ALLOW_INSECURE": "yes"}, cwd=tmp_path)
    assert insecure.allow_insecure is True
    (tmp_path / ".env").write_text(
        "DIFFMIG_KEEP_RUNS=2\nDIFFMIG_LOG_DIR=/var/log/diffmig\nDIFFMIG_REPORTS_DIR=out/reports\n"
    )
    chosen = load_settings(environ={**OLD_NAMES, "DIFFMIG_RANGE_KEYS": "64"}, cwd=tmp_path)
    assert (chosen.keep_runs, chosen.range_keys) == (2, 64)
    assert chosen.log_dir == Path("/var/log/diffmig")
    assert chosen.reports_dir == Path("out/reports")
    for name, value, message in [
        ("DIFFMIG_RANGE_KEYS", "100", "multiple of 32"),
        ("DIFFMIG_RANGE_KEYS", "many", "must be a number"),
        ("DIFFMIG_KEEP_RUNS", "all", "must be a number"),
    ]:
        with pytest.raises(ConfigError, match=message) as raised:
            load_settings(environ={**OLD_NAMES, name: value}, cwd=tmp_path)
        assert raised.value.hint


def test_range_keys_step_is_the_sync_bucket_width() -> None:
    from orchestrator.settings import RANGE_KEYS_STEP
    from orchestrator.sync.mirror import BUCKET_WIDTH

    assert RANGE_KEYS_STEP == BUCKET_WIDTH


def test_missing_env_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.env", environ={}, cwd=tmp_path)


def test_bad_port_and_bad_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a number"):
        load_settings(environ={**OLD_NAMES, "SOURCE_DB_PORT": "five"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="not a valid PostgreSQL URL") as err:
        load_settings(
            environ={**OLD_NAMES, "SOURCE_DATABASE_URL": "postgresql://u:hunter2-pw@h:1/d?x=y y"},
            cwd=tmp_path,
        )
    assert "hunter2-pw" not in str(err.value)


def test_tls_required_for_remote_hosts_unless_opted_out(tmp_path: Path) -> None:
    remote = {**OLD_NAMES, "TARGET_DB_HOST": "db.example.supabase.co"}
    assert load_settings(environ=remote, cwd=tmp_path).target.sslmode == "require"
    with pytest.raises(ConfigError, match="unencrypted"):
        load_settings(environ={**remote, "TARGET_DB_SSLMODE": "disable"}, cwd=tmp_path)
    opted_out = {**remote, "TARGET_DB_SSLMODE": "disable", "DIFFMIG_ALLOW_INSECURE": "1"}
    assert load_settings(environ=opted_out, cwd=tmp_path).target.sslmode == "disable"
    assert load_settings(environ=OLD_NAMES, cwd=tmp_path).source.sslmode == "prefer"


def test_secrets_never_show() -> None:
    secret = Secret("pa55-word-xyz")
    assert "pa55" not in repr(secret)
    assert "pa55" not in str(secret)
    assert "pa55" not in f"{secret}"
    assert redact("connecting with pa55-word-xyz") == "connecting with ***"


def test_redact_dsns() -> None:
    assert redact("postgresql://u:topsecret@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert "topsecret" not in redact("host=h password=topsecret user=u")
    assert "top secret" not in redact("host=h password='top secret' user=u")


def test_conninfo_and_describe(tmp_path: Path) -> None:
    settings = load_settings(environ=OLD_NAMES, cwd=tmp_path)
    assert "s3cret-source-PW" in settings.source.conninfo()
    assert "s3cret" not in settings.source.describe()
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("/var/run/postgresql", True),
        ("10.0.0.1", False),
        ("db.abc.supabase.co", False),
    ],
)
def test_is_local_host(host: str, local: bool) -> None:
    assert is_local_host(host) is local


def test_statement_timeout_applies_to_the_destination_only(tmp_path: Path) -> None:
    from orchestrator.db import PINNED_SESSION, session_settings
    from orchestrator.dbt_runner import dbt_env

    settings = load_settings(environ=OLD_NAMES, cwd=tmp_path)
    # None by default: hosted Supabase's 2-minute limit is lifted on every destination session.
    assert settings.target.statement_timeout == "0"
    assert settings.source.statement_timeout is None
    assert session_settings(settings.source) == PINNED_SESSION
    assert session_settings(settings.target).endswith("set statement_timeout = '0'")
    assert "-c statement_timeout=0" in dbt_env(settings)["PGOPTIONS"]

    lowered = load_settings(
        environ={**OLD_NAMES, "DIFFMIG_STATEMENT_TIMEOUT": " 90 MIN "}, cwd=tmp_path
    )
    assert lowered.target.statement_timeout == "90min"
    assert "-c statement_timeout=90min" in dbt_env(lowered)["PGOPTIONS"]
    for bad in ("forever", "1.5h", "10 weeks", "-1", "1'; drop table x"):
        with pytest.raises(ConfigError, match="DIFFMIG_STATEMENT_TIMEOUT"):
            load_settings(environ={**OLD_NAMES, "DIFFMIG_STATEMENT_TIMEOUT": bad}, cwd=tmp_path)

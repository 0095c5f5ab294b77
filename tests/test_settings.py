from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from w365tui.settings import SettingsError, config_path, first_look, load_settings

VALID = """\
default_profile = "prod"

[profiles.prod]
dataverse_url = "https://contoso.crm.dynamics.com"
tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47"
client_id = "51f81489-12ee-4a9e-aaae-a2591f45987d"
auth = "device_code"
read_only = true

[profiles.prod.streamone]
account_id = 12345

[profiles.prod.schema.entities]
licensechangelog = "w365_lcl"

[profiles.prod.schema.options.lcl_status]
archived = 100000001
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_the_sandbox_profile(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "missing.toml")
    name, profile = settings.profile()
    assert name == "sandbox"
    assert profile.is_sandbox


def test_config_path_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("W365TUI_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert config_path() == tmp_path / "elsewhere.toml"
    monkeypatch.delenv("W365TUI_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "w365tui" / "config.toml"


def test_a_valid_file_loads_profiles_and_schema_overrides(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, VALID))
    name, profile = settings.profile()
    assert name == "prod"
    assert profile.read_only is True
    assert profile.streamone is not None and profile.streamone.account_id == 12345
    assert profile.streamone.cloud_profile_short_name == "Microsoft"
    assert profile.schema_map.entities == {"licensechangelog": "w365_lcl"}
    assert profile.schema_map.options["lcl_status"]["archived"] == 100000001
    assert settings.profile("sandbox")[1].is_sandbox


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        (VALID.replace('"72f988bf-86f1-41af-91ab-2d7cd011db47"', '"not-a-guid"'), 5,
         "profiles.prod.tenant_id", "UUID"),
        (VALID.replace("account_id = 12345", "account_id = -4"), 11,
         "profiles.prod.streamone.account_id", "greater than 0"),
        (VALID.replace("read_only = true", "read_only = true\ncolour = 'red'"), 9,
         "profiles.prod.colour", "unknown setting"),
        (VALID.replace('auth = "device_code"', 'auth = "password"'), 7, "profiles.prod.auth", "device_code"),
        (VALID.replace('auth = "device_code"', 'auth = "device_code"\nprovider_account_id = "guid"'), 8,
         "profiles.prod.provider_account_id", "'auto', 'customer' or 'tenant'"),
        (VALID.replace('licensechangelog = "w365_lcl"', 'licensechangelog = "w365 lcl; drop"'), 14,
         "profiles.prod.schema.entities.licensechangelog", "logical name"),
        ('default_profile = "nope"\n', None, None, "not a profile"),
        ("[profiles.x]\nkind = \"dataverse\"\n", 1, "profiles.x", "needs dataverse_url"),
    ],
)
def test_invalid_files_name_the_file_line_and_key(tmp_path: Path, text: str, line: int | None,
                                                  key: str | None, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    error = caught.value
    assert error.path == path
    assert error.line == line
    assert error.key == key
    assert fragment in str(error)
    assert str(error).startswith(f"{path}:{line}:" if line else f"{path}:")


def test_broken_toml_gives_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'default_profile = "sandbox"\n[profiles.prod\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert caught.value.line == 2
    assert "not valid TOML" in str(caught.value)


def test_secrets_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("read_only = true", 'read_only = true\nclient_secret = "hunter2"'))
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert caught.value.key == "profiles.prod.client_secret"
    assert caught.value.line == 9
    assert "hunter2" not in str(caught.value)


def test_cli_reports_a_broken_file_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("account_id = 12345", 'account_id = "many"'))
    result = subprocess.run(
        [sys.executable, "-m", "w365tui", "config", "check"],
        capture_output=True, text=True, env={"W365TUI_CONFIG": str(path), "PATH": ""},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{path}:11: profiles.prod.streamone.account_id:" in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_prints_the_config_path(tmp_path: Path) -> None:
    target = tmp_path / "c.toml"
    result = subprocess.run([sys.executable, "-m", "w365tui", "config", "path"], capture_output=True, text=True,
                            env={"W365TUI_CONFIG": str(target), "PATH": ""}, check=True)
    assert result.stdout.strip() == str(target)


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = VALID.replace("account_id = 12345", "account_id = -4").replace('auth = "device_code"', 'auth = "password"')
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert any(":7: profiles.prod.auth:" in line for line in lines)
    assert any(":11: profiles.prod.streamone.account_id:" in line for line in lines)


def test_urls_with_a_password_and_secret_values_are_refused(tmp_path: Path) -> None:
    text = VALID.replace('dataverse_url = "https://contoso.crm.dynamics.com"',
                         'dataverse_url = "https://ops:hunter2@contoso.crm.dynamics.com"')
    path = write(tmp_path, text + '\n[keys]\n"accounts.map" = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefgh"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert [p[1] for p in caught.value.problems] == ["keys.accounts.map", "profiles.prod.dataverse_url"]
    assert "eyJ" not in str(caught.value) and "hunter2" not in str(caught.value)
    path = write(tmp_path, text)
    with pytest.raises(SettingsError, match="user name or password") as caught:
        load_settings(path)
    assert caught.value.key == "profiles.prod.dataverse_url" and "hunter2" not in str(caught.value)


@pytest.mark.parametrize("value, secret", [
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefgh", True),
    ("Bearer abc", True),
    ("q8X~r2vN4pLk9sT1wZ7yB3mC5dF6gH0jK", True),
    ("72f988bf-86f1-41af-91ab-2d7cd011db47", False),
    ("Providers.TechDataCspProvider", False),
    ("https://contoso.crm.dynamics.com", False),
    ("M", False),
    ("/home/operator/.local/share/w365tui/sandbox2024.sqlite3", False),
])
def test_what_looks_like_a_secret(value: str, secret: bool) -> None:
    from w365tui.settings import looks_secret

    assert looks_secret(value) is secret


def test_config_check_reports_a_missing_file_and_what_the_app_would_warn_about(tmp_path: Path) -> None:
    env = {"W365TUI_CONFIG": str(tmp_path / "none.toml"), "PATH": ""}
    missing = subprocess.run([sys.executable, "-m", "w365tui", "config", "check"], capture_output=True, text=True,
                             env=env)
    assert missing.returncode == 0 and "no settings file" in missing.stdout
    path = write(tmp_path, '[keys]\n"accounts.map" = "u"\n"accounts.mapp" = "x"\n')
    with_keys = {**env, "W365TUI_CONFIG": str(path)}
    with_keys_text = 'theme = "no-such-theme"\n' + path.read_text()
    path.write_text(with_keys_text)
    result = subprocess.run([sys.executable, "-m", "w365tui", "config", "check"], capture_output=True, text=True,
                            env=with_keys)
    assert result.returncode == 1
    assert "unknown binding ids: accounts.mapp" in result.stderr
    assert "'u' is on accounts.map and accounts.unmap at once" in result.stderr
    assert "unknown theme 'no-such-theme'" in result.stderr


def test_the_app_started_on_a_file_not_valid_ends_with_its_problems_as_the_commands_do(tmp_path: Path) -> None:
    """The app takes a first look at the file and validates it after its first paint: a value
    that is not valid still ends it with exit 2, the file, line and key, and nothing else."""
    path = write(tmp_path, VALID.replace("account_id = 12345", 'account_id = "many"'))
    result = subprocess.run([sys.executable, "-m", "w365tui", "--profile", "prod"], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "W365TUI_CONFIG": str(path),
                                             "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert result.returncode == 2
    assert f"w365tui: {path}:11: profiles.prod.streamone.account_id:" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_first_look_reads_the_profile_without_validating(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    look = first_look(path=path)
    assert (look.profile_name, look.kind, look.read_only, look.is_sandbox) == ("prod", "dataverse", True, False)
    assert first_look("sandbox", path).is_sandbox  # built in, though not written
    with pytest.raises(KeyError, match="no profile named 'nope'"):
        first_look("nope", path)
    broken = tmp_path / "broken.toml"
    broken.write_text('default_profile = "prod"\n[profiles.prod\n', encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        first_look(path=broken)
    assert caught.value.line == 2
    odd = tmp_path / "odd.toml"
    odd.write_text('theme = 3\n[keys]\n"app.help" = 4\n', encoding="utf-8")
    assert (first_look(path=odd).theme, first_look(path=odd).keys) == (None, {})  # left to validation

"""``w365tui doctor`` and ``w365tui login`` as an operator runs them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path


def run(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "w365tui", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env}, input=stdin)


def home(tmp_path: Path) -> dict[str, str]:
    return {"W365TUI_CONFIG": str(tmp_path / "config.toml"), "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_doctor_on_the_sandbox_prints_the_schema_and_exits_0(tmp_path: Path) -> None:
    result = run("doctor", env=home(tmp_path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "WhoAmI ok" in out
    assert "licensechangelog  work365_licensechangelog (work365_licensechangelogs)" in out
    assert "lcl_status        active=1, archived=921950001" in out
    assert "TD SYNNEX StreamOne (Providers.TechDataCspProvider, automatic)" in out
    assert "counts     provider accounts 29, unmapped 14" in out
    assert out.rstrip().endswith("all checks passed")
    assert list((tmp_path / "cache" / "w365tui" / "schema").glob("*.json"))
    token = tmp_path / "state" / "w365tui" / "tokens" / "ion-sandbox.json"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600


def test_doctor_against_a_closed_port_fails_in_one_line(tmp_path: Path) -> None:
    env = home(tmp_path)
    Path(env["W365TUI_CONFIG"]).write_text('[profiles.closed]\nkind = "sandbox"\nsandbox_url = "http://127.0.0.1:9"\n')
    result = run("doctor", "--profile", "closed", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("w365tui doctor: Dataverse at http://127.0.0.1:9/api/data/v9.2/ is not usable:")
    assert "Traceback" not in result.stderr


def test_doctor_on_a_real_profile_without_sign_in_says_how(tmp_path: Path) -> None:
    env = home(tmp_path)
    Path(env["W365TUI_CONFIG"]).write_text(
        '[profiles.prod]\ndataverse_url = "https://contoso.crm.dynamics.com"\n'
        'tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\nclient_id = "51f81489-12ee-4a9e-aaae-a2591f45987d"\n'
        '[profiles.prod.streamone]\naccount_id = 7\n')
    result = run("doctor", "--profile", "prod", env=env)
    assert result.returncode == 1
    assert "run `w365tui login --profile prod`" in result.stderr


def test_login_on_the_sandbox_stores_a_streamone_token(tmp_path: Path) -> None:
    result = run("login", env=home(tmp_path))
    assert result.returncode == 0, result.stderr
    token = tmp_path / "state" / "w365tui" / "tokens" / "ion-sandbox.json"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert "refresh_token" in token.read_text()


def test_doctor_discovers_either_naming(tmp_path: Path) -> None:
    env = home(tmp_path)
    for naming, quantity in (("published", "quantity=work365_subscription_quantity"),
                             ("compact", "quantity=work365_quantity")):
        db = tmp_path / f"{naming}.sqlite3"
        reset = run("sandbox", "reset", "--db", str(db), "--naming", naming, env=env)
        assert reset.returncode == 0 and f"{naming} names" in reset.stdout, reset.stderr
        Path(env["W365TUI_CONFIG"]).write_text(f'[profiles.sb]\nkind = "sandbox"\nsandbox_db = "{db}"\n')
        result = run("doctor", "--profile", "sb", env=env)
        assert result.returncode == 0, result.stderr
        assert quantity in result.stdout and result.stdout.rstrip().endswith("all checks passed")


def test_doctor_shows_which_ids_the_connector_writes_and_warns_when_the_setting_disagrees(tmp_path: Path) -> None:
    env = home(tmp_path)
    db = tmp_path / "tenant.sqlite3"
    reset = run("sandbox", "reset", "--db", str(db), "--connector-ids", "tenant,ion", env=env)
    assert reset.returncode == 0 and "connector ids tenant,ion" in reset.stdout, reset.stderr
    config = Path(env["W365TUI_CONFIG"])
    config.write_text(f'[profiles.sb]\nkind = "sandbox"\nsandbox_db = "{db}"\n')
    result = run("doctor", "--profile", "sb", env=env)
    assert result.returncode == 0, result.stderr
    assert ("ids        provider-specific id: the Microsoft tenant id (detected: the org's 29 provider accounts "
            "hold 29 tenant ids)") in result.stdout
    assert ("ids        provider subscription id: StreamOne's own subscription id (detected: the org's 18 "
            "subscriptions hold 18 StreamOne ids)") in result.stdout
    assert "warning" not in result.stdout
    config.write_text(f'[profiles.sb]\nkind = "sandbox"\nsandbox_db = "{db}"\nprovider_account_id = "customer"\n')
    result = run("doctor", "--profile", "sb", env=env)
    assert result.returncode == 0, result.stderr
    assert "provider-specific id: the StreamOne customer id (set by provider_account_id; the org's 29 provider " \
           "accounts hold 29 tenant ids)" in result.stdout
    assert "warning    provider_account_id = 'customer', but the org's 29 provider accounts hold 29 tenant ids: if " \
           "Work 365's connector writes the Microsoft tenant id" in result.stdout
    assert result.stdout.rstrip().endswith("all checks passed (1 warning)")
    clash = run("sandbox", "serve", "--db", str(db), "--connector-ids", "customer,ion", "--port", "0", env=env)
    assert clash.returncode == 2 and "reset it to change that" in clash.stderr
    wrong = run("sandbox", "reset", "--db", str(db), "--connector-ids", "tenant", env=env)
    assert wrong.returncode == 2 and "connector ids must be <customer|tenant>,<microsoft|ion>" in wrong.stderr

"""The command line: sandbox reset and serve, run as a newcomer would run them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "w365tui", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_sandbox_reset_builds_a_database(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    result = run("sandbox", "reset", "--db", str(db), "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert db.exists()
    assert "seed 3" in result.stdout
    scaled = run("sandbox", "reset", "--db", str(db), "--scale", "50")
    assert scaled.returncode == 0
    assert run("sandbox", "reset", "--scale", "0").returncode == 2


def test_sandbox_commands_never_overwrite_a_file_that_is_not_a_sandbox_and_fail_in_one_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("important notes\n")
    for args in (("reset", "--db", str(notes)), ("serve", "--db", str(notes), "--scale", "3", "--port", "0")):
        result = run("sandbox", *args)
        assert result.returncode == 2 and "is not a sandbox database; it is left as it is" in result.stderr, args
        assert notes.read_text() == "important notes\n"
    served = run("sandbox", "serve", "--db", str(notes), "--port", "0")  # opening it is refused too
    assert served.returncode == 2 and served.stderr.startswith(f"w365tui: cannot use {notes}: ")
    assert notes.read_text() == "important notes\n"
    folder = run("sandbox", "reset", "--db", str(tmp_path))
    assert folder.returncode == 2 and f"{tmp_path} is not a file" in folder.stderr
    for result in (served, folder):
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    db = tmp_path / "s.sqlite3"
    assert run("sandbox", "reset", "--db", str(db), "--seed", "3").returncode == 0
    assert run("sandbox", "reset", "--db", str(db)).returncode == 0  # a sandbox's own file is fair game
    other_seed = run("sandbox", "serve", "--db", str(db), "--seed", "7", "--port", "0")
    assert other_seed.returncode == 2 and "is a book with seed 1; reset it to change that" in other_seed.stderr


def test_sandbox_reset_defaults_to_the_user_data_directory(tmp_path: Path) -> None:
    result = run("sandbox", "reset", env={"XDG_DATA_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "w365tui" / "sandbox.sqlite3").exists()


def test_sandbox_serve_answers_over_http(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "w365tui", "sandbox", "serve", "--port", str(port), "--db", str(tmp_path / "s.sqlite3")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert health.json()["ok"] is True
        who = httpx.get(f"http://127.0.0.1:{port}/api/data/v9.2/WhoAmI", timeout=5)
        assert who.status_code == 200 and "UserId" in who.json()
        # a second server on the same port fails in one line
        clash = run("sandbox", "serve", "--port", str(port), "--db", str(tmp_path / "other.sqlite3"))
        assert clash.returncode == 1
        assert clash.stderr.startswith(f"w365tui: cannot serve on 127.0.0.1:{port}")
        assert "Traceback" not in clash.stderr
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_real_profile_without_sign_in_says_how_to_sign_in(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('default_profile = "prod"\n[profiles.prod]\ndataverse_url = "https://x.crm.dynamics.com"\n'
                      'tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
                      'client_id = "51f81489-12ee-4a9e-aaae-a2591f45987d"\n[profiles.prod.streamone]\naccount_id = 1\n')
    result = run(env={"W365TUI_CONFIG": str(config), "XDG_STATE_HOME": str(tmp_path / "state")})
    assert result.returncode == 2
    assert "run `w365tui login --profile prod`" in result.stderr and "Traceback" not in result.stderr
    unknown = run("--profile", "nope", env={"W365TUI_CONFIG": str(config)})
    assert unknown.returncode == 2 and "no profile named 'nope'" in unknown.stderr


def test_the_bare_command_starts_the_app_as_the_parser_would() -> None:
    """``w365tui`` alone skips building the parser: the same arguments as parsing nothing."""
    from w365tui import cli

    assert vars(cli._bare()) == vars(cli._parser().parse_args([]))

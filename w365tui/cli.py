"""The ``w365tui`` command: the TUI by default, and ``config``, ``sandbox serve|reset``.

Nothing here imports Textual unless the TUI is started, so the sub-commands stay quick and
work on machines without a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from w365tui import __version__
from w365tui.settings import SettingsError, config_path, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="w365tui",
        description="Onboard TD SYNNEX StreamOne customers into Work 365 from the keyboard.",
    )
    parser.add_argument("--version", action="version", version=f"w365tui {__version__}")
    parser.add_argument("--profile", help="settings profile to use (default: the file's default_profile, else sandbox)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    config = commands.add_parser("config", help="the settings file")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_commands.add_parser("path", help="print where the settings file is read from")
    config_commands.add_parser("check", help="validate the settings file")

    doctor = commands.add_parser("doctor", help="check settings, reachability, sign-in and schema discovery")
    doctor.add_argument("--profile", dest="command_profile", help="profile to check")
    login = commands.add_parser("login", help="sign in to the profile's Work 365 (device code) and store tokens")
    login.add_argument("--profile", dest="command_profile", help="profile to sign in to")
    login.add_argument("--streamone-token-stdin", action="store_true",
                       help="also read a StreamOne refresh token (from the StreamOne portal) from standard input")

    sandbox = commands.add_parser("sandbox", help="the built-in emulator of Work 365 and StreamOne")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = sandbox_commands.add_parser("serve", help="serve the sandbox over HTTP on loopback")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8365)
    for sub in (serve, sandbox_commands.add_parser("reset", help="throw the sandbox data away and seed it anew")):
        sub.add_argument("--db", type=Path, help="SQLite file (default: sandbox.sqlite3 in the user data directory)")
        sub.add_argument("--scale", type=_positive, help="build a book of N generated customers instead of the demo book")
        sub.add_argument("--seed", type=int, default=1, help="seed for the generated data (default 1)")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "config":
            return _config(args)
        if args.command == "sandbox":
            return _sandbox(args)
        if args.command in ("doctor", "login"):
            return _doctor(args)
        return _tui(args)
    except SettingsError as error:
        print(f"w365tui: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _config(args: argparse.Namespace) -> int:
    if args.config_command == "path":
        print(config_path())
        return 0
    settings = load_settings()
    names = ", ".join(sorted({"sandbox", *settings.profiles}))
    print(f"{config_path()}: valid; profiles: {names}; default: {settings.default_profile}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from w365tui import doctor

    settings = load_settings()
    try:
        name, profile = settings.profile(args.command_profile or args.profile)
    except KeyError as error:
        print(f"w365tui: {error.args[0]}", file=sys.stderr)
        return 2
    if args.command == "login":
        token = sys.stdin.readline().strip() if args.streamone_token_stdin else None
        return doctor.main("login", name, profile, ion_token=token)
    return doctor.main("doctor", name, profile)


def _sandbox(args: argparse.Namespace) -> int:
    from w365tui.sandbox.host import Sandbox, default_db_path, open_store, reset

    path = args.db or default_db_path()
    if args.sandbox_command == "reset":
        store = reset(path, seed=args.seed, scale=args.scale)
        print(f"sandbox reset: {path} ({store.count('account')} accounts, seed {args.seed})")
        store.close()
        return 0
    if args.scale is not None or not Path(path).exists():
        store = reset(path, seed=args.seed, scale=args.scale)
    else:
        store = open_store(path, seed=args.seed)
    sandbox = Sandbox(store, args.host, args.port)
    server = sandbox.server

    async def serve() -> None:
        await server.start_async()
        print(f"w365tui sandbox on {server.url}  (database {path})")
        print(f"  Dataverse Web API: {server.url}/api/data/v9.2/")
        print(f"  StreamOne Ion:     {server.url}/api/v3/accounts/{sandbox.ion_account_id}/  "
              f"(refresh token: POST {server.url}/_sandbox/ion/refresh-token)")
        print("  Ctrl+C stops it.", flush=True)
        assert server._server is not None
        try:
            await server._server.serve_forever()
        finally:
            await server.stop_async()

    try:
        asyncio.run(serve())
    except OSError as error:
        print(f"w365tui: cannot serve on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0


def _tui(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        name, profile = settings.profile(args.profile)
    except KeyError as error:
        print(f"w365tui: {error.args[0]}", file=sys.stderr)
        return 2
    if not profile.is_sandbox:
        from w365tui.clients.auth import read_tokens
        from w365tui.session import entra_store

        if not read_tokens(entra_store(name)):
            print(f"w365tui: not signed in to {profile.dataverse_url}; run `w365tui login --profile {name}`",
                  file=sys.stderr)
            return 2
    from w365tui.ui.app import W365App

    W365App(profile_name=name, profile=profile, keymap=settings.keys, theme=settings.theme).run()
    return 0

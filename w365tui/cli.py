"""The ``w365tui`` command: the TUI by default, and every sub-command.

Thin: it parses, calls a workflow, prints (``--format text|json``), exits — 0 done or a clean dry
run, 1 refused (a blocking reason, a plan left in doubt, a conflict), 2 error. Writes happen
only with ``--apply``. Nothing here imports Textual unless the TUI is started, so the
sub-commands stay quick and work on machines without a terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from w365tui import __version__

DONE, REFUSED, ERROR = 0, 1, 2


def _connector_ids(text: str) -> tuple[str, str]:
    from w365tui.sandbox.seed import parse_connector_ids

    try:
        return parse_connector_ids(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 36500:
        raise argparse.ArgumentTypeError("must be 0 to 36500 days")
    return value


def _signed_int(text: str) -> int:
    from w365tui.domain.lcl import parse_quantity

    try:
        return parse_quantity(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _iso_date(text: str) -> Any:
    from w365tui.domain.lcl import parse_date

    try:
        return parse_date(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _bare() -> argparse.Namespace:
    """What the parser gives for no arguments at all: the app, on the default profile."""
    return argparse.Namespace(command=None, open_account=None, open_subscription=None)


def _parser() -> argparse.ArgumentParser:
    profile = argparse.ArgumentParser(add_help=False)
    profile.add_argument("--profile", metavar="NAME", default=argparse.SUPPRESS,
                         help="settings profile to use (default: the file's default_profile, else sandbox)")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--format", choices=("text", "json"), default="text", help="how to print (default text)")
    write = argparse.ArgumentParser(add_help=False, parents=[profile, output])
    write.add_argument("--apply", action="store_true", help="write the plan (without it: print it, write nothing)")

    parser = argparse.ArgumentParser(
        prog="w365tui", parents=[profile],
        description="Onboard TD SYNNEX StreamOne customers into Work 365 from the keyboard. Without a command, "
                    "starts the app.",
        epilog="Exit status: 0 done (or a clean dry run), 1 refused, 2 error.")
    parser.add_argument("--version", action="version", version=f"w365tui {__version__}")
    parser.add_argument("--account", metavar="ID", dest="open_account",
                        help="start on this CRM account's subscriptions (pane 3)")
    parser.add_argument("--subscription", metavar="ID", dest="open_subscription",
                        help="start on this subscription's license change logs (pane 4)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sync = commands.add_parser("sync", help="sync from StreamOne into Work 365 (a previewed plan)")
    sync_commands = sync.add_subparsers(dest="sync_command", metavar="WHAT", required=True)
    accounts = sync_commands.add_parser("provider-accounts", parents=[write],
                                        help="create provider accounts for new StreamOne customers")
    accounts.add_argument("--provider", metavar="NAME_OR_ID",
                          help="the provider (default: the automatic provider whose connector is StreamOne)")
    subs = sync_commands.add_parser("subscriptions", parents=[write],
                                    help="sync a customer's StreamOne subscriptions onto a billing contract")
    subs.add_argument("--account", metavar="ID", required=True, help="the CRM account (customer)")
    subs.add_argument("--contract", metavar="ID", help="the billing contract (default: the account's default)")
    subs.add_argument("--provider", metavar="NAME_OR_ID", help="the provider (default: the StreamOne one)")

    accounts_cmd = commands.add_parser("accounts", help="find CRM accounts, and see one customer at a glance")
    account_commands = accounts_cmd.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)
    find = account_commands.add_parser("search", parents=[profile, output],
                                       help="CRM accounts by name, domain, account number, tenant or customer id")
    find.add_argument("text", metavar="TEXT")
    one = account_commands.add_parser("show", parents=[profile, output],
                                      help="one customer: provider accounts, contracts, subscription counts, flags "
                                           "(exit 1 when something is flagged)")
    one.add_argument("account_id", metavar="ID", help="the CRM account")

    lcl = commands.add_parser("lcl", help="license change logs: list, archive or unarchive, add a correcting one")
    lcl_commands = lcl.add_subparsers(dest="lcl_command", metavar="ACTION", required=True)
    lcl_list = lcl_commands.add_parser("list", parents=[profile],
                                       help="a subscription's LCLs with Σ against its quantity (exit 1 when they "
                                            "differ)")
    lcl_list.add_argument("--subscription", metavar="ID", required=True)
    lcl_list.add_argument("--format", choices=("text", "json", "csv"), default="text",
                          help="how to print (default text; csv: a header row, ISO dates, for a spreadsheet)")
    lcl_archive = lcl_commands.add_parser("archive", parents=[write],
                                          help="archive LCLs so they are not invoiced (never an Awaiting "
                                               "Provisioning one)")
    lcl_archive.add_argument("lcl_ids", metavar="ID", nargs="+", help="license change log ids")
    lcl_archive.add_argument("--unarchive", action="store_true",
                             help="make them Active again (never an invoiced one)")
    lcl_add = lcl_commands.add_parser("add", parents=[write],
                                      help="add a correcting LCL, Not Applicable so nothing is provisioned")
    lcl_add.add_argument("--subscription", metavar="ID", required=True)
    lcl_add.add_argument("--event", required=True, help="update, create, activate or deactivate")
    lcl_add.add_argument("--quantity", type=_signed_int, required=True, help="signed whole number of licences")
    lcl_add.add_argument("--date", type=_iso_date, required=True, help="effective date, YYYY-MM-DD")

    listing_subs = commands.add_parser(
        "subscriptions", parents=[profile, output],
        help="a customer's subscriptions: each manual one beside the TechData one proposed to replace it, with "
             "step 5's flags (exit 1 when something is flagged)")
    listing_subs.add_argument("--account", metavar="ID", required=True, help="the CRM account (customer)")
    listing_subs.add_argument("--contract", metavar="ID", help="only the subscriptions of this billing contract")

    report = commands.add_parser(
        "report", parents=[profile],
        help="a mismatch report over the book, one customer or one provider (exit 0 empty, 1 findings, 2 error)",
        epilog="Exit status: 0 the report is empty, 1 it has findings, 2 error — for cron or CI.")
    report.add_argument("report_name", metavar="REPORT",
                        choices=("lcl-mismatch", "license-mismatch", "missing-data", "unmapped", "uninvoiced"),
                        help="lcl-mismatch, license-mismatch, missing-data, unmapped or uninvoiced")
    report.add_argument("--customer", metavar="ID", help="only this CRM account's rows")
    report.add_argument("--provider", metavar="NAME_OR_ID", help="only this provider's rows")
    report.add_argument("--days", type=_days, default=None,
                        help="uninvoiced: LCLs effective more than this many days ago (default 45)")
    report.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="how to write it (default table; csv: a header row, ISO dates, for a spreadsheet; "
                             "json: one document with the report, scope, generated time and rows)")
    report.add_argument("--output", metavar="FILE", type=Path, help="write it to FILE instead of standard output")

    onboard = commands.add_parser(
        "onboard", parents=[profile, output],
        help="where one customer stands in the onboarding procedure, step by step (exit 0 done, 1 steps remain, "
             "2 error)",
        epilog="Exit status: 0 every step is done, 1 steps remain, 2 error — to list customers still mid-onboarding.")
    named = onboard.add_mutually_exclusive_group(required=True)
    named.add_argument("--account", metavar="ID", help="the customer's CRM account")
    named.add_argument("--provider-account", metavar="ID", help="the customer's provider account (mapped or not)")
    onboard.add_argument("--summary", metavar="FILE", type=Path,
                         help="also write a Markdown summary for the ticket: the checklist and every plan applied "
                              "for this customer, from the journal")

    mapping = commands.add_parser("map", parents=[write], help="map a provider account to a CRM account")
    mapping.add_argument("--provider-account", metavar="ID", required=True)
    mapping.add_argument("--account", metavar="ID", required=True, help="the CRM account")
    mapping.add_argument("--replace", action="store_true", help="replace an existing mapping to another account")
    unmap = commands.add_parser("unmap", parents=[write], help="remove a provider account's mapping")
    unmap.add_argument("--provider-account", metavar="ID", required=True)

    plan = commands.add_parser("plan", help="the journal's plans: list, show, resume, roll back, undo; replace a "
                                            "manual subscription")
    plan_commands = plan.add_subparsers(dest="plan_command", metavar="ACTION", required=True)
    listing = plan_commands.add_parser("list", parents=[profile, output], help="list the journalled plans")
    listing.add_argument("--all", action="store_true", help="every profile's plans, not only this profile's")
    show = plan_commands.add_parser("show", parents=[profile, output], help="show one plan and its outcome")
    show.add_argument("plan_id", metavar="ID", help="the plan id (its first characters will do)")
    for action, text in (("resume", "check a plan left in doubt against the service and finish it"),
                         ("rollback", "undo what of a plan left in doubt was applied"),
                         ("undo", "undo an applied plan (created rows are deactivated, never deleted)")):
        sub = plan_commands.add_parser(action, parents=[write], help=text)
        sub.add_argument("plan_id", metavar="ID", help="the plan id (its first characters will do)")
    replace_cmd = plan_commands.add_parser(
        "replace", parents=[write],
        help="retire a manual subscription for its TechData twin: move its LCL history, align the effective "
             "start and the Create quantity, archive what must not be invoiced, deactivate it (exit 1 when "
             "preflight blocks it)")
    replace_cmd.add_argument("--manual", metavar="ID", required=True, help="the manual subscription to retire")
    replace_cmd.add_argument("--techdata", metavar="ID", required=True, help="the TechData subscription replacing it")
    replace_cmd.add_argument("--invoice-deactivation", action="store_true",
                             help="leave the manual subscription's Deactivate LCL Active, to be invoiced "
                                  "(default: archive it)")
    dismiss = plan_commands.add_parser("dismiss", parents=[write],
                                       help="mark a plan left in doubt as settled by hand (after checking its rows)")
    dismiss.add_argument("plan_id", metavar="ID")
    dismiss.add_argument("--note", required=True, help="what was checked or done by hand")

    config = commands.add_parser("config", help="the settings file")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_commands.add_parser("path", help="print where the settings file is read from")
    config_commands.add_parser("check", help="validate the settings file")

    commands.add_parser("doctor", parents=[profile], help="check settings, reachability, sign-in and schema discovery")
    login = commands.add_parser("login", parents=[profile],
                                help="sign in to the profile's Work 365 (device code) and store tokens")
    login.add_argument("--streamone-token-stdin", action="store_true",
                       help="also read a StreamOne refresh token (from the StreamOne portal) from standard input")

    sandbox = commands.add_parser("sandbox", help="the built-in emulator of Work 365 and StreamOne")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = sandbox_commands.add_parser("serve", help="serve the sandbox over HTTP on loopback")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8365, help="port to listen on (default 8365; 0 picks a free one)")
    for sub in (serve, sandbox_commands.add_parser("reset", help="throw the sandbox data away and seed it anew")):
        sub.add_argument("--db", type=Path, help="SQLite file (default: sandbox.sqlite3 in the user data directory)")
        sub.add_argument("--scale", type=_positive, help="build a book of N generated customers instead of the demo book")
        sub.add_argument("--seed", type=int, help="seed for the generated data (default 1)")
        sub.add_argument("--naming", choices=("published", "compact"),
                         help="the names its Web API shows: Work 365's published ones (default for a new book), or "
                              "the compact ones of earlier sandboxes")
        sub.add_argument("--connector-ids", type=_connector_ids, metavar="ACCOUNT,SUBSCRIPTION",
                         help="which ids the book's provider accounts and subscriptions hold, as Work 365's connector "
                              "wrote them: customer or tenant, microsoft or ion (default for a new book: "
                              "customer,microsoft)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else list(argv)
    # --help and --version end in the parser, before anything heavy is imported; the app with no
    # options needs no parser (building the sub-commands' takes a hundredth of a second)
    args = _parser().parse_args(given) if given else _bare()
    args.profile = getattr(args, "profile", None)
    from w365tui.settings_file import SettingsError

    try:
        if args.command == "config":
            return _config(args)
        if args.command == "sandbox":
            return _sandbox(args)
        if args.command in ("doctor", "login"):
            return _doctor(args)
        if args.command in ("sync", "map", "unmap", "plan", "accounts", "subscriptions", "lcl", "report", "onboard"):
            return _workflow(args)
        return _tui(args)
    except SettingsError as error:
        for line in str(error).splitlines():
            print(f"w365tui: {line}", file=sys.stderr)
        return ERROR
    except KeyboardInterrupt:
        return 130


def _config(args: argparse.Namespace) -> int:
    from w365tui.settings import config_path, load_settings

    path = config_path()
    if args.config_command == "path":
        print(path)
        return DONE
    if not path.exists():
        print(f"{path}: no settings file; the built-in sandbox profile is used (see README: Settings)")
        return DONE
    settings = load_settings()
    problems: list[str] = []
    if settings.keys or settings.theme:  # what the TUI checks the same way when it starts
        from w365tui.ui.checks import settings_problems

        problems = settings_problems(settings)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        return REFUSED
    names = ", ".join(sorted({"sandbox", *settings.profiles}))
    print(f"{path}: valid; profiles: {names}; default: {settings.default_profile}")
    return DONE


def _profile(args: argparse.Namespace) -> tuple[str, Any] | None:
    from w365tui.settings import load_settings

    settings = load_settings()
    try:
        return settings.profile(args.profile)
    except KeyError as error:
        print(f"w365tui: {error.args[0]}", file=sys.stderr)
        return None


def _doctor(args: argparse.Namespace) -> int:
    from w365tui import doctor

    chosen = _profile(args)
    if chosen is None:
        return ERROR
    name, profile = chosen
    if args.command == "login":
        token = sys.stdin.readline().strip() if args.streamone_token_stdin else None
        return doctor.main("login", name, profile, ion_token=token)
    return doctor.main("doctor", name, profile)


def _sandbox_db_problem(path: Path) -> str | None:
    """Why ``path`` must not be thrown away and seeded anew (None: it is a sandbox's, or free)."""
    import sqlite3

    if not path.exists():
        return None
    if not path.is_file():
        return f"{path} is not a file"
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            db.execute("SELECT value FROM sandbox_meta WHERE key = 'seed'").fetchone()
    except sqlite3.Error:
        return (f"{path} is not a sandbox database; it is left as it is (give --db a new file, or remove this one "
                "yourself if it is yours to lose)")
    return None


def _sandbox(args: argparse.Namespace) -> int:
    import sqlite3

    path = Path(args.db) if args.db else None
    try:
        return _sandbox_command(args)
    except (sqlite3.Error, OSError) as error:
        shown = path if path is not None else "the sandbox database"
        print(f"w365tui: cannot use {shown}: {getattr(error, 'strerror', None) or error}", file=sys.stderr)
        return ERROR


def _sandbox_command(args: argparse.Namespace) -> int:
    from w365tui.sandbox.host import Sandbox, default_db_path, open_store, reset, summary
    from w365tui.sandbox.seed import CONNECTOR_IDS
    from w365tui.sandbox.store import naming_of

    path = Path(args.db or default_db_path())
    naming = args.naming or "published"
    ids = args.connector_ids or CONNECTOR_IDS
    seed = args.seed if args.seed is not None else 1
    fresh = args.sandbox_command == "reset" or args.scale is not None or not path.exists()
    problem = _sandbox_db_problem(path) if fresh else None
    if problem:
        print(f"w365tui: {problem}", file=sys.stderr)
        return ERROR
    if args.sandbox_command == "reset":
        store = reset(path, seed=seed, scale=args.scale, naming=naming, connector_ids=ids)
        print(f"sandbox reset: {path} (seed {seed}, {naming} names, connector ids {','.join(ids)}): "
              f"{summary(store)}")
        store.close()
        return DONE
    if fresh:
        store = reset(path, seed=seed, scale=args.scale, naming=naming, connector_ids=ids)
    else:
        store = open_store(path, seed=seed)
        held = tuple((store.meta("connector_ids") or ",".join(CONNECTOR_IDS)).split(","))
        for asked, has, flag, shown in ((args.naming, naming_of(store), "--naming", f"the {naming_of(store)} names"),
                                        (args.connector_ids and ",".join(args.connector_ids), ",".join(held),
                                         "--connector-ids", f"connector ids {','.join(held)}"),
                                        (None if args.seed is None else str(args.seed), store.meta("seed"),
                                         "--seed", f"seed {store.meta('seed')}")):
            if asked and asked != has:
                print(f"w365tui: {path} is a book with {shown}; reset it to change that: "
                      f"`w365tui sandbox reset --db {path} {flag} {asked}`", file=sys.stderr)
                store.close()
                return ERROR
    sandbox = Sandbox(store, args.host, args.port)
    server = sandbox.server

    async def serve() -> None:
        await server.start_async()
        print(f"w365tui sandbox on {server.url}  (database {path}, {naming_of(store)} names)")
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
        import asyncio

        asyncio.run(serve())
    except OSError as error:
        print(f"w365tui: cannot serve on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return REFUSED
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return DONE


# -- the workflows ----------------------------------------------------------------------------------
class _Output:
    """Collects what a command prints, as text lines or one JSON document."""

    def __init__(self, form: str, file: Path | None = None):
        self.form = form
        self.file = file  # where the command's answer goes instead of standard output
        self.data: dict[str, Any] = {}
        self.lines: list[str] = []
        self.csv: str | None = None

    def text(self, line: str) -> None:
        self.lines.append(line)

    def flush(self, code: int) -> int:
        if self.form == "csv":  # one table, for a spreadsheet
            text = self.csv
        elif self.form == "json":
            text = json.dumps({**self.data, "exit": code}, ensure_ascii=False, indent=1, default=str) + "\n"
        else:
            text = "\n".join(self.lines) + "\n" if self.lines else None
        if text is None:
            return code
        if self.file is None or code == ERROR:
            sys.stdout.write(text)
            return code
        try:
            _write_file(self.file, text)
        except OSError as error:
            print(f"w365tui: cannot write {self.file}: {error.strerror or error}", file=sys.stderr)
            return ERROR
        return code


def _write_file(path: Path, text: str) -> None:
    """Write whole or not at all: a temporary file beside it, renamed over it."""
    import os
    import tempfile

    path = path.expanduser()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as any file the operator writes, not private like a temporary one
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _workflow(args: argparse.Namespace) -> int:
    from w365tui.clients.auth import TokenFileError
    from w365tui.clients.http import W365Error
    from w365tui.journal import Journal, JournalError
    from w365tui.session import SessionError
    from w365tui.work365.executor import PlanRefused
    from w365tui.work365.reads import ReadError
    from w365tui.work365.rows import RowError
    from w365tui.work365.schema import SchemaError
    from w365tui.workflows.base import WorkflowError

    chosen = _profile(args)
    if chosen is None:
        return ERROR
    name, profile = chosen
    out = _Output(getattr(args, "format", "text"), getattr(args, "output", None))
    try:
        if args.command == "plan" and args.plan_command in ("list", "show", "dismiss"):
            return out.flush(_journal_only(args, name, profile, Journal(), out))
        import asyncio

        return out.flush(asyncio.run(_with_session(name, profile, lambda session: _run(args, session, out))))
    except PlanRefused as refusal:
        out.data["refused"] = str(refusal)
        out.text(f"refused: {refusal}")
        return out.flush(REFUSED)
    except (WorkflowError, SessionError, SchemaError, ReadError, RowError, JournalError, W365Error,
            TokenFileError) as error:
        return _error(out, str(error))
    except Exception as error:  # a bug, or something not foreseen: an error (2), never "refused" (1)
        return _error(out, f"unexpected {type(error).__name__}: {error}")


def _error(out: _Output, message: str) -> int:
    out.data["error"] = message
    if out.form == "json":
        out.flush(ERROR)
    print(f"w365tui: {message}", file=sys.stderr)
    return ERROR


async def _with_session(name: str, profile: Any, body: Callable[[Any], Awaitable[int]]) -> int:
    from w365tui.session import open_session

    session = await open_session(name, profile)
    try:
        return await body(session)
    finally:
        await session.close()


def _journal_only(args: argparse.Namespace, name: str, profile: Any, journal: Any, out: _Output) -> int:
    from w365tui.workflows import plans, render

    if args.plan_command == "list":
        records = plans.list_plans(journal, None if args.all else name)
        out.data["plans"] = [render.record_json(r) for r in records]
        out.text(render.records_text(records))
        return DONE
    if args.plan_command == "show":
        record = plans.find_plan(journal, args.plan_id)
        out.data["plan"] = render.record_json(record)
        out.text(render.record_text(record))
        return DONE
    record = plans.find_plan(journal, args.plan_id)
    out.data["plan"] = render.record_json(record)
    if record.profile != name:
        raise plans.WorkflowError(f"{record.describe()} belongs to the profile {record.profile!r}; use --profile "
                                  f"{record.profile}")
    if not record.unresolved:
        out.text(f"refused: {record.describe()} is not left in doubt")
        out.data["refused"] = "not in doubt"
        return REFUSED
    if not args.apply:
        out.text(f"{record.describe()} would be marked settled by hand: {args.note}")
        out.text("dry run: nothing was written; add --apply to write it")
        return DONE
    plans.dismiss(journal, record.plan_id, args.note, profile=name, read_only=profile.read_only)
    out.text(f"{record.describe()} marked settled by hand")
    return DONE


async def _run(args: argparse.Namespace, session: Any, out: _Output) -> int:
    from w365tui.workflows import customers, lcl, mapping, plans, render, replacement, sync

    if args.command == "accounts" and args.accounts_command == "search":
        found = await customers.search(session, args.text)
        out.data.update(render.search_json(found))
        out.text(render.search_text(found))
        return DONE
    if args.command == "accounts":
        view = await customers.customer(session, args.account_id)
        out.data.update(render.customer_json(view))
        out.text(render.customer_text(view))
        if view.unread:  # shown as far as it could be read, and said to be incomplete
            print(f"w365tui: could not read {'; '.join(view.unread)}", file=sys.stderr)
            return ERROR
        return REFUSED if view.findings else DONE

    if args.command == "report":
        return await _report(args, session, out)
    if args.command == "onboard":
        return await _onboard(args, session, out)
    if args.command == "lcl" and args.lcl_command == "list":
        shown = await lcl.listing(session, args.subscription)
        out.data.update(render.lcl_json(shown))
        out.text(render.lcl_text(shown))
        out.csv = render.lcl_csv(shown)
        return DONE if shown.sigma.matches else REFUSED
    if args.command == "lcl" and args.lcl_command == "archive":
        plan = await lcl.prepare_archive(session, args.lcl_ids, unarchive=args.unarchive)
        return await _show_and_apply(args, session, plan, out)
    if args.command == "lcl":
        plan = await lcl.prepare_add(session, args.subscription, event=args.event, quantity=args.quantity,
                                     effective_date=args.date)
        return await _show_and_apply(args, session, plan, out)
    if args.command == "subscriptions":
        view = await replacement.subscriptions_view(session, args.account, args.contract)
        out.data.update(render.subscriptions_json(view))
        out.text(render.subscriptions_text(view))
        return REFUSED if render.subscription_findings(view) else DONE

    if args.command == "sync" and args.sync_command == "provider-accounts":
        plan = await sync.prepare_provider_account_sync(session, args.provider)
        return await _show_and_apply(args, session, plan, out)
    if args.command == "sync":
        prepared = await sync.prepare_subscription_sync(session, args.account, args.contract, which=args.provider)
        return await _show_and_apply(args, session, prepared.plan, out,
                                     lambda _: sync.apply_subscription_sync(session, prepared))
    if args.command == "map":
        plan = await mapping.prepare_map(session, args.provider_account, args.account, replace=args.replace)
        return await _show_and_apply(args, session, plan, out)
    if args.command == "unmap":
        plan = await mapping.prepare_unmap(session, args.provider_account)
        return await _show_and_apply(args, session, plan, out)
    if args.plan_command == "replace":
        prepared = await replacement.prepare_replacement(session, args.manual, args.techdata,
                                                         invoice_deactivation=args.invoice_deactivation)
        out.data["replacement"] = render.replacement_json(prepared.replacement)
        return await _show_and_apply(args, session, prepared.plan, out,
                                     lambda _: replacement.apply_replacement(session, prepared))
    if args.plan_command == "resume":
        resume = await plans.prepare_resume(session, args.plan_id)
        return await _show_and_apply(args, session, resume.preview, out,
                                     lambda _: plans.apply_resume(session, resume), allow_empty=True)
    prepare = plans.prepare_rollback if args.plan_command == "rollback" else plans.prepare_undo
    plan = await prepare(session, args.plan_id)
    return await _show_and_apply(args, session, plan, out, lambda p: plans.apply_inverse(session, p),
                                 allow_empty=args.plan_command == "rollback")


def _writable_folder(path: Path) -> str | None:
    """Why ``path`` cannot be written (its folder missing or read-only), said before the work."""
    import os

    folder = path.expanduser().parent
    if not folder.is_dir():
        return f"cannot write {path}: no folder {folder}"
    if not os.access(folder, os.W_OK):
        return f"cannot write {path}: the folder {folder} is not writable"
    return None


async def _report(args: argparse.Namespace, session: Any, out: _Output) -> int:
    from w365tui.domain import reports as shapes
    from w365tui.workflows import reports
    from w365tui.workflows.base import WorkflowError

    if args.output is not None and (problem := _writable_folder(args.output)):
        raise WorkflowError(problem)

    scope = await reports.scope_of(session, customer=args.customer, provider=args.provider)
    report = await reports.run(session, args.report_name, scope,
                               days=shapes.DEFAULT_DAYS if args.days is None else args.days)
    out.data.update(shapes.to_json(report))
    out.csv = shapes.to_csv(report)
    out.text(shapes.to_table(report))
    return REFUSED if report.findings else DONE


async def _onboard(args: argparse.Namespace, session: Any, out: _Output) -> int:
    from w365tui.workflows import onboard, render
    from w365tui.workflows.base import WorkflowError

    if args.summary is not None and (problem := _writable_folder(args.summary)):
        raise WorkflowError(problem)
    shown = await onboard.checklist(session, account=args.account, provider_account=args.provider_account)
    out.data.update(shown.as_json())
    out.text(render.checklist_text(shown))
    if args.summary is not None:
        mine = onboard.plans_for(list(session.journal.plans().values()), shown, profile=session.profile_name,
                                 organization=session.organization_id)
        try:
            _write_file(args.summary, onboard.summary_markdown(shown, mine))
        except OSError as error:
            raise WorkflowError(f"cannot write {args.summary}: {error.strerror or error}") from None
        out.data["summary"] = str(args.summary)
    if shown.unread:
        out.data["error"] = "a step could not be read from the services"
        return ERROR
    return DONE if shown.done else REFUSED


async def _show_and_apply(args: argparse.Namespace, session: Any, plan: Any, out: _Output,
                          apply: Callable[[Any], Awaitable[Any]] | None = None, *, allow_empty: bool = False) -> int:
    """Print the plan; apply it with --apply. ``allow_empty``: an empty plan still resolves
    something when applied (a resume or rollback with nothing left to send)."""
    from w365tui.workflows import base, render

    out.data["plan"] = render.plan_json(plan)
    out.data["applied"] = None
    out.text(render.plan_text(plan))
    if plan.blocking:
        out.text("nothing was written")
        return REFUSED
    if plan.is_empty and not allow_empty:
        out.text("nothing to change")
        return DONE
    if not args.apply:
        out.text("dry run: nothing was written; add --apply to apply it")
        return DONE
    applied = await (apply or (lambda p: base.apply(session, p)))(plan)
    if applied is None:
        out.text("done: nothing of it had been applied; it is marked rolled back")
        return DONE
    out.data["applied"] = render.applied_json(applied)
    if not applied.ok:
        out.text(applied.message())
        return REFUSED if applied.conflict else ERROR
    out.text(f"applied: {applied.message()}")
    if applied.followup is not None:
        out.text(f"follow-up: {applied.followup.plan.summary}: {applied.followup.message()}")
    if applied.followup_error:
        out.text(f"follow-up: {applied.followup_error}")
    return DONE if applied.all_done else ERROR


def _tui(args: argparse.Namespace) -> int:
    # A first look at the settings file, not its validation: pydantic and the services' clients
    # are loaded after the first paint, and the app ends with the file's problems if it is not valid
    from w365tui.settings_file import SettingsError, first_look

    try:
        look = first_look(args.profile)
    except KeyError as error:
        print(f"w365tui: {error.args[0]}", file=sys.stderr)
        return ERROR
    from w365tui.ui.app import W365App

    app = W365App(look.profile_name, look, keymap=look.keys, theme=look.theme,
                  open_account=args.open_account, open_subscription=args.open_subscription)
    app.run()
    if isinstance(app.start_error, SettingsError):
        raise app.start_error
    if app.start_error is not None:
        error = app.start_error
        print(f"w365tui: {error.args[0] if isinstance(error, KeyError) else error}", file=sys.stderr)
        return ERROR
    return DONE

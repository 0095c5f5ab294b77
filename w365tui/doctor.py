"""``w365tui doctor`` and ``w365tui login``: check a profile end to end, and sign in.

Both run without Textual. Doctor prints what it found and exits 0 when all is well; otherwise
it prints one line saying what failed and exits 1.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

import httpx

from w365tui.clients.auth import TokenFileError, read_tokens
from w365tui.clients.http import RetryPolicy, W365Error
from w365tui.clients.odata import DataverseClient, Query, eq
from w365tui.clients.streamone import IonClient, IonTokens
from w365tui.session import SessionError, endpoints, entra_sign_in, ion_store, sandbox_ion_token
from w365tui.settings import Profile, cache_dir
from w365tui.work365.reads import ReadError, Reads
from w365tui.work365.rows import wire_name
from w365tui.work365.schema import SchemaError, load_schema
from w365tui.workflows.ids import id_usage

CLIENT_SECRET_ENV = "W365TUI_CLIENT_SECRET"


class DoctorFailure(Exception):
    """One line: what failed."""


async def run_doctor(name: str, profile: Profile, out: Callable[[str], None]) -> None:
    out(f"profile    {name} ({'sandbox' if profile.is_sandbox else 'Work 365 at ' + str(profile.dataverse_url)})"
        + ("  read-only" if profile.read_only else ""))
    async with endpoints(profile, name, ion_token=False) as where:  # each service is checked in turn
        token = None
        if not where.is_sandbox:
            token = entra_sign_in(profile, name, where)
            if not read_tokens(token.store):
                raise DoctorFailure(f"not signed in to {profile.dataverse_url}; run `w365tui login --profile {name}`")
        retry = RetryPolicy(attempts=2, base_delay=0.2)
        async with DataverseClient(where.dataverse, token=token, retry=retry,
                                    max_concurrency=profile.dataverse_concurrency) as dv:
            try:
                who = await dv.whoami()
            except (W365Error, TokenFileError) as exc:
                raise DoctorFailure(f"Dataverse at {where.dataverse} is not usable: {exc}") from None
            out(f"dataverse  {where.dataverse}  WhoAmI ok (user {who['UserId']}, organization {who['OrganizationId']})")
            try:
                schema, _, _ = await load_schema(dv, profile.schema_map, cache_root=cache_dir(), refresh=True)
                provider = await Reads(dv, schema).streamone_provider(profile.streamone_connectors)
            except (SchemaError, ReadError) as exc:
                raise DoctorFailure(f"Work 365 schema: {exc}") from None
            except W365Error as exc:
                raise DoctorFailure(f"Work 365 schema discovery failed: {exc}") from None
            for role, table in sorted(schema.tables.items()):
                columns = ", ".join(f"{k}={v}" for k, v in sorted(table.columns.items()))
                out(f"table      {role:<17} {table.logical_name} ({table.entity_set})" + (f": {columns}" if columns else ""))
            for option_set, values in sorted(schema.options.items()):
                out(f"options    {option_set:<17} " + ", ".join(f"{k}={v}" for k, v in sorted(values.items())))
            out(f"provider   {provider.name} ({provider.internal_name}, automatic) {provider.id}")
            counts = []
            for label, role, extra in (("provider accounts", "provideraccount", None),
                                       ("unmapped", "provideraccount", "account"),
                                       ("subscriptions", "subscription", None),
                                       ("license change logs", "licensechangelog", None)):
                table = schema.table(role)
                condition = eq(wire_name(schema, role, extra), None) if extra else None
                page = await anext(dv.pages(Query(table.entity_set, select=[table.primary_id], filter=condition,
                                                  top=1, count=True), page_size=1))
                counts.append(f"{label} {page.count if page.count is not None else '?'}")
            out("counts     " + ", ".join(counts))
            usage = await id_usage(Reads(dv, schema), profile, provider)
            for line in (usage.accounts.describe(), usage.subscriptions.describe()):
                out(f"ids        {line}")
            for warning in usage.warnings:
                out(f"warning    {warning}")
            warned = len(usage.warnings)
        if token is not None:
            await token.aclose()
        if where.is_sandbox:
            try:
                where.ion_account_id = await sandbox_ion_token(where.ion, ion_store(name))
            except httpx.HTTPError as exc:
                raise DoctorFailure(f"the sandbox's StreamOne at {where.ion} is not usable: {exc}") from None
        async with IonClient(where.ion, where.ion_account_id, IonTokens(ion_store(name), where.ion),
                             retry=RetryPolicy(attempts=2, base_delay=0.2),
                             max_concurrency=profile.streamone_concurrency) as ion:
            try:
                customers = 0
                async for _ in ion.customers(page_size=50):
                    customers += 1
                    if customers >= 50:
                        break
            except (W365Error, TokenFileError) as exc:
                raise DoctorFailure(f"StreamOne at {where.ion} is not usable: {exc}") from None
            out(f"streamone  {where.ion} account {where.ion_account_id}: customers readable "
                f"({customers}{'+' if customers >= 50 else ''} on the first page)")
    out("all checks passed" + (f" ({warned} warning{'' if warned == 1 else 's'})" if warned else ""))


async def run_login(name: str, profile: Profile, out: Callable[[str], None], *, ion_token: str | None = None) -> None:
    async with endpoints(profile, name) as where:
        if where.is_sandbox:  # starting the endpoints took a StreamOne token from the sandbox
            out(f"sandbox: a StreamOne refresh token is stored in {ion_store(name)}")
            out("sandbox: Dataverse needs no sign-in")
            return
        if ion_token:
            IonTokens.save_refresh_token(ion_store(name), ion_token)
            out(f"StreamOne refresh token stored in {ion_store(name)}")
        entra = entra_sign_in(profile, name, where)
        try:
            if profile.auth == "client_credentials":
                secret = os.environ.get(CLIENT_SECRET_ENV)
                if not secret:
                    raise DoctorFailure(f"client credentials need the secret in the environment variable {CLIENT_SECRET_ENV}")
                await entra.client_credentials(secret)
            else:
                code = await entra.start_device_code()
                out(code.message or f"Open {code.verification_uri} and enter the code {code.user_code}")
                await entra.poll_device_code(code)
        except W365Error as exc:
            raise DoctorFailure(f"sign-in failed: {exc}") from None
        finally:
            await entra.aclose()
        out(f"signed in; the token is stored in {entra.store}")


def main(command: str, name: str, profile: Profile, **kwargs: object) -> int:
    def out(line: str) -> None:
        print(line, flush=True)

    try:
        if command == "doctor":
            asyncio.run(run_doctor(name, profile, out))
        else:
            asyncio.run(run_login(name, profile, out, **kwargs))  # type: ignore[arg-type]
    except DoctorFailure as failure:
        print(f"w365tui {command}: {failure}", file=sys.stderr)
        return 1
    except (TokenFileError, SessionError) as failure:
        print(f"w365tui {command}: {failure}", file=sys.stderr)
        return 1
    return 0

"""One working session against a profile: where its services are, its clients, its Work 365
schema, reads and executor, its journal, its sandbox.

Free of Textual: the TUI opens a session in a worker and closes it when it quits; ``doctor`` and
``login`` use the same endpoints and token stores.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from w365tui.clients.auth import EntraSignIn, read_tokens, token_dir
from w365tui.clients.http import tls_context
from w365tui.clients.odata import DataverseClient
from w365tui.clients.streamone import IonClient, IonTokens
from w365tui.journal import Journal
from w365tui.settings import Profile, cache_dir
from w365tui.work365.executor import Executor
from w365tui.work365.reads import Reads
from w365tui.work365.schema import Work365Schema, load_schema

ENTRA_AUTHORITY = "https://login.microsoftonline.com"


class SessionError(Exception):
    """The session cannot start; the message says what to do."""


def entra_store(profile_name: str) -> Path:
    return token_dir() / f"entra-{profile_name}.json"


def ion_store(profile_name: str) -> Path:
    return token_dir() / f"ion-{profile_name}.json"


@dataclass
class TenantMemo:
    """StreamOne customers' Microsoft tenant ids, as read this session (and cached on disk)."""

    by_customer: dict[str, str | None] = field(default_factory=dict)  # None: the customer has none
    by_tenant: dict[str, str] = field(default_factory=dict)  # tenant id (compared form) → customer id
    complete: bool = False  # every customer StreamOne listed has been read
    cache: Path | None = None  # the file the known tenants are kept in between runs

    def remember(self, customer_id: str, tenant: str | None, key: str | None) -> None:
        self.by_customer[customer_id] = tenant
        if tenant and key:
            self.by_tenant[key] = customer_id


@dataclass
class Endpoints:
    dataverse: str
    ion: str
    ion_account_id: int
    authority: str
    sandbox: Any = None  # the in-process sandbox, when one was started for these endpoints
    is_sandbox: bool = False


def entra_sign_in(profile: Profile, name: str, where: Endpoints) -> EntraSignIn:
    assert profile.tenant_id is not None and profile.client_id is not None and profile.dataverse_url is not None
    scope = f"{str(profile.dataverse_url).rstrip('/')}/.default offline_access"
    return EntraSignIn(where.authority, str(profile.tenant_id), str(profile.client_id), scope, entra_store(name))


async def sandbox_ion_token(url: str, path: Path) -> int:
    """Take a fresh StreamOne refresh token from a sandbox, as an operator would from the
    StreamOne portal; returns the sandbox's StreamOne account id. (A sandbox reset since the
    last run has killed any stored token.)"""
    async with httpx.AsyncClient(base_url=url, timeout=30, verify=tls_context()) as http:
        response = await http.post("/_sandbox/ion/refresh-token")
        response.raise_for_status()
        payload = response.json()
    await asyncio.to_thread(IonTokens.save_refresh_token, path, payload["refresh_token"])
    return int(payload["account_id"])


async def start_endpoints(profile: Profile, profile_name: str, sandbox_url: str | None = None, *,
                          ion_token: bool = True) -> Endpoints:
    """Where the profile's services are. A sandbox profile without a URL starts a sandbox (stop it
    with :func:`stop_endpoints`); with ``ion_token`` a sandbox also hands out a fresh StreamOne token."""
    if not profile.is_sandbox:
        assert profile.dataverse_url is not None and profile.streamone is not None
        return Endpoints(f"{str(profile.dataverse_url).rstrip('/')}/api/data/v9.2/",
                         str(profile.streamone.base_url).rstrip("/"), profile.streamone.account_id, ENTRA_AUTHORITY)
    sandbox = None
    url = sandbox_url or (str(profile.sandbox_url).rstrip("/") if profile.sandbox_url else None)
    if url is None:
        from w365tui.sandbox.host import Sandbox, default_db_path, open_store

        store = await asyncio.to_thread(open_store, profile.sandbox_db or default_db_path(),
                                        seed=profile.seed, scale=profile.scale)
        sandbox = Sandbox(store)
        await asyncio.to_thread(sandbox.start)
        url = sandbox.url
    where = Endpoints(f"{url}/api/data/v9.2/", url, 0, url, sandbox, True)
    if ion_token:
        try:
            where.ion_account_id = await sandbox_ion_token(url, ion_store(profile_name))
        except BaseException as error:
            await stop_endpoints(where)
            if isinstance(error, httpx.HTTPError):
                raise SessionError(f"the sandbox at {url} is not usable: {error or type(error).__name__}") from None
            raise
    return where


async def stop_endpoints(where: Endpoints) -> None:
    if where.sandbox is not None:
        await asyncio.to_thread(where.sandbox.stop)
        where.sandbox.store.close()
        where.sandbox = None


@contextlib.asynccontextmanager
async def endpoints(profile: Profile, profile_name: str, *, ion_token: bool = True) -> AsyncIterator[Endpoints]:
    where = await start_endpoints(profile, profile_name, ion_token=ion_token)
    try:
        yield where
    finally:
        await stop_endpoints(where)


@dataclass
class Session:
    """Everything one profile's work needs: the clients, the schema, reads, the executor, the journal."""

    profile_name: str
    profile: Profile
    dataverse: DataverseClient
    ion: IonClient
    schema: Work365Schema
    reads: Reads
    executor: Executor
    journal: Journal
    user_id: str
    organization_id: str
    user_name: str | None = None
    where: Endpoints | None = None
    tenants: TenantMemo = field(default_factory=lambda: TenantMemo(), repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def is_sandbox(self) -> bool:
        return self.profile.is_sandbox

    @property
    def read_only(self) -> bool:
        return self.profile.read_only

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.executor.finish_plans()  # a plan being applied runs to its end first
        await self.dataverse.aclose()
        if self.dataverse.token is not None:
            await self.dataverse.token.aclose()
        await self.ion.aclose()
        if self.where is not None:
            await stop_endpoints(self.where)


async def open_session(profile_name: str, profile: Profile, *, sandbox_url: str | None = None,
                       journal: Journal | None = None) -> Session:
    """Start (or find) the services, sign in, discover the schema."""
    token = None
    if not profile.is_sandbox and not read_tokens(entra_store(profile_name)):
        raise SessionError(f"not signed in to {profile.dataverse_url}; run `w365tui login --profile {profile_name}`")
    where = await start_endpoints(profile, profile_name, sandbox_url)
    if not profile.is_sandbox:
        token = entra_sign_in(profile, profile_name, where)
    timeout = httpx.Timeout(profile.timeout, connect=min(10.0, profile.timeout))
    dataverse = DataverseClient(where.dataverse, token=token, max_concurrency=profile.dataverse_concurrency,
                                timeout=timeout)
    ion = IonClient(where.ion, where.ion_account_id, IonTokens(ion_store(profile_name), where.ion),
                    max_concurrency=profile.streamone_concurrency, timeout=timeout)
    journal = journal or Journal()
    try:
        schema, organization, user_id = await load_schema(dataverse, profile.schema_map, cache_root=cache_dir())
        user_name = await dataverse.user_name(user_id)
    except BaseException:
        await dataverse.aclose()
        await ion.aclose()
        await stop_endpoints(where)
        raise
    executor = Executor(dataverse, schema, journal, profile=profile_name, organization=organization,
                        user=user_name or user_id, read_only=profile.read_only)
    return Session(profile_name, profile, dataverse, ion, schema, Reads(dataverse, schema), executor, journal,
                   user_id, organization, user_name, where)

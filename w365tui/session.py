"""One working session against a profile: its clients, its Work 365 gateway, its sandbox.

Free of Textual: the TUI opens a session in a worker and closes it when it quits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from w365tui.clients.auth import read_tokens
from w365tui.clients.odata import DataverseClient
from w365tui.clients.streamone import IonClient, IonTokens
from w365tui.doctor import entra_store, ion_store
from w365tui.journal import Journal
from w365tui.settings import Profile, cache_dir
from w365tui.work365.gateway import Work365


class SessionError(Exception):
    """The session cannot start; the message says what to do."""


@dataclass
class Session:
    profile_name: str
    profile: Profile
    dataverse: DataverseClient
    ion: IonClient
    gateway: Work365
    user_id: str
    organization_id: str
    user_name: str | None = None
    sandbox: Any = None  # the in-process sandbox, when this session started one
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
        await self.gateway.finish_plans()  # a plan being applied runs to its end first
        await self.dataverse.aclose()
        await self.ion.aclose()
        if self.sandbox is not None:
            await asyncio.to_thread(self.sandbox.stop)
            self.sandbox.store.close()


async def open_session(profile_name: str, profile: Profile, *, sandbox_url: str | None = None,
                       journal: Journal | None = None) -> Session:
    """Start (or find) the services, sign in, discover the schema."""
    sandbox = None
    if profile.is_sandbox:
        url = sandbox_url or (str(profile.sandbox_url).rstrip("/") if profile.sandbox_url else None)
        if url is None:
            from w365tui.sandbox.host import Sandbox, default_db_path, open_store

            store = await asyncio.to_thread(open_store, profile.sandbox_db or default_db_path(),
                                            seed=profile.seed, scale=profile.scale)
            sandbox = Sandbox(store)
            await asyncio.to_thread(sandbox.start)
            url = sandbox.url
        dataverse_url, ion_url, token = f"{url}/api/data/v9.2/", url, None
        # A sandbox may have been reset since the last run, killing any stored refresh token:
        # take a fresh one from it, as an operator would from the StreamOne portal.
        import httpx

        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            response = await http.post("/_sandbox/ion/refresh-token")
            response.raise_for_status()
            IonTokens.save_refresh_token(ion_store(profile_name), response.json()["refresh_token"])
            account_id = int(response.json()["account_id"])
    else:
        from w365tui.doctor import endpoints, entra_sign_in

        assert profile.dataverse_url is not None and profile.streamone is not None
        if not read_tokens(entra_store(profile_name)):
            raise SessionError(f"not signed in to {profile.dataverse_url}; run `w365tui login --profile {profile_name}`")
        async with endpoints(profile) as where:
            token = entra_sign_in(profile, profile_name, where)
        dataverse_url = f"{str(profile.dataverse_url).rstrip('/')}/api/data/v9.2/"
        ion_url, account_id = str(profile.streamone.base_url).rstrip("/"), profile.streamone.account_id
    dataverse = DataverseClient(dataverse_url, token=token, max_concurrency=profile.dataverse_concurrency)
    ion = IonClient(ion_url, account_id, IonTokens(ion_store(profile_name), ion_url),
                    max_concurrency=profile.streamone_concurrency)
    try:
        who = await dataverse.whoami()
        user_name = await dataverse.user_name(str(who["UserId"]))
        gateway = await Work365.connect(dataverse, profile.schema_map, cache_root=cache_dir(), journal=journal,
                                        profile=profile_name)
    except BaseException:
        await dataverse.aclose()
        await ion.aclose()
        if sandbox is not None:
            await asyncio.to_thread(sandbox.stop)
        raise
    return Session(profile_name, profile, dataverse, ion, gateway, str(who["UserId"]), str(who["OrganizationId"]),
                   user_name, sandbox)


"""Running a sandbox: open (and seed) its database, serve it on loopback, stop it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from w365tui.sandbox import seed as seeding
from w365tui.sandbox.asgi import SandboxApp
from w365tui.sandbox.dataverse import ORGANIZATION_ID
from w365tui.sandbox.faults import FaultInjector
from w365tui.sandbox.schema import catalog
from w365tui.sandbox.server import LoopbackServer
from w365tui.sandbox.store import Store, naming_of


def default_db_path() -> Path:
    from w365tui.settings import data_dir

    return data_dir() / "sandbox.sqlite3"


def open_store(path: str | Path, *, seed: int = 1, scale: int | None = None, naming: str = "published",
               connector_ids: tuple[str, str] = seeding.CONNECTOR_IDS) -> Store:
    """Open the sandbox database at ``path``, seeding it first (served under ``naming``) if it is new."""
    store = Store(path)
    if store.meta("seed") is None:
        seeding.seed(store, seed=seed, scale=scale, connector_ids=connector_ids)
        store.set_meta("organization_id", str(uuid.uuid4()))
        store.set_meta("naming", catalog(naming).naming)
    return store


def summary(store: Store) -> str:
    """What a seeded book holds, in the terms the app shows it."""
    conn = store.conn
    providers = conn.execute(
        "SELECT v.work365_name, COUNT(p.work365_provideraccountid), SUM(p.work365_account IS NULL) "
        "FROM work365_provideraccount p JOIN work365_provider v ON v.work365_providerid = p.work365_provider "
        "WHERE p.statecode = 0 AND v.statecode = 0 GROUP BY v.work365_name ORDER BY COUNT(*) DESC").fetchall()
    parts = [f"{store.count('account'):,} CRM accounts"]
    parts += [f"{count:,} provider accounts on {name} ({unmapped or 0:,} unmapped)" for name, count, unmapped in providers]
    parts.append(f"{store.count('work365_subscription'):,} subscriptions")
    parts.append(f"{store.count('ion_customer'):,} StreamOne customers")
    return ", ".join(parts)


def reset(path: str | Path, *, seed: int = 1, scale: int | None = None, naming: str = "published",
          connector_ids: tuple[str, str] = seeding.CONNECTOR_IDS) -> Store:
    """Throw the database at ``path`` away and seed a new one."""
    target = Path(path)
    for suffix in ("", "-wal", "-shm"):
        candidate = target.with_name(target.name + suffix)
        if candidate.exists():
            candidate.unlink()
    return open_store(target, seed=seed, scale=scale, naming=naming, connector_ids=connector_ids)


class Sandbox:
    """The emulator served over loopback HTTP from a background thread."""

    def __init__(self, store: Store, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.faults = FaultInjector()
        self.app = SandboxApp(store, self.faults, clock)
        self.server = LoopbackServer(self.app, host, port)

    @classmethod
    def in_memory(cls, *, seed: int | None = 1, scale: int | None = None, naming: str = "published",
                  connector_ids: tuple[str, str] = seeding.CONNECTOR_IDS,
                  clock: Callable[[], float] = time.time) -> Sandbox:
        store = Store(":memory:")
        store.set_meta("naming", catalog(naming).naming)
        if seed is not None:
            seeding.seed(store, seed=seed, scale=scale, connector_ids=connector_ids)
        book = (seed, scale, catalog(naming).naming, tuple(connector_ids))
        if book != (1, None, "published", seeding.CONNECTOR_IDS):
            # Another book is another org: what the app caches per org (its schema, tenants) must not
            # carry over from one to the other. The demo book keeps the one id its screenshots show.
            store.set_meta("organization_id", str(uuid.uuid5(uuid.UUID(ORGANIZATION_ID), repr(book))))
        return cls(store, clock=clock)

    @property
    def naming(self) -> str:
        return naming_of(self.store)

    def start(self) -> Sandbox:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def dataverse_url(self) -> str:
        return f"{self.url}/api/data/v9.2/"

    @property
    def entra_authority(self) -> str:
        """Stands in for ``https://login.microsoftonline.com``."""
        return self.url

    @property
    def ion_account_id(self) -> int:
        return self.app.ion.account_id()

    def new_ion_refresh_token(self) -> str:
        return self.app.ion.mint_refresh_token(self.ion_account_id)

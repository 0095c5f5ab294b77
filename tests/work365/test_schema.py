"""Schema discovery from the sandbox's metadata, overrides and the per-org cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from w365tui.clients.odata import DataverseClient
from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.schema import (
    LCL_EVENTS,
    LCL_STATUS_ARCHIVED,
    PROVIDER_TYPES,
    PROVISIONING_STATUSES,
    Attribute,
    catalog,
)
from w365tui.settings import SchemaOverrides
from w365tui.work365.schema import SchemaError, discover, load_schema

pytestmark = pytest.mark.anyio


def shown(sandbox: Sandbox, table: str, stored: str) -> Attribute:
    """The attribute the sandbox stores as ``stored``, as its naming shows it."""
    return catalog(sandbox.naming).by_logical[table].by_store[stored]


async def test_discovery_finds_tables_columns_navigation_and_options(sandbox: Sandbox) -> None:
    async with DataverseClient(sandbox.dataverse_url) as dv:
        schema = await discover(dv)
    lcl = schema.table("licensechangelog")
    assert (lcl.logical_name, lcl.entity_set) == ("work365_licensechangelog", "work365_licensechangelogs")
    for field, stored in (("quantity", "work365_quantity"), ("event", "work365_event"),
                          ("provisioningstatus", "work365_provisioningstatus"), ("name", "work365_name"),
                          ("subscription", "work365_subscription"), ("effectivedate", "work365_effectivedate")):
        assert lcl.columns[field] == shown(sandbox, "work365_licensechangelog", stored).logical_name
    assert schema.table("provider").logical_name == "work365_provider"
    assert schema.table("provideraccount").navigation["account"] == shown(
        sandbox, "work365_provideraccount", "work365_account").nav
    subscription = schema.table("subscription")
    for field, stored in (("quantity", "work365_quantity"), ("name", "work365_subscriptionname"),
                          ("billingcontract", "work365_billingcontract"),
                          ("providersubscriptionid", "work365_providersubscriptionid"),
                          ("effectivestartdate", "work365_effectivestartdate")):
        assert subscription.columns[field] == shown(sandbox, "work365_subscription", stored).logical_name
    expected = {"published": "work365_licensechangelog_subscription_work365_subscription",
                "compact": "work365_subscription_licensechangelogs"}[sandbox.naming]
    assert subscription.collections["lcls"] == expected
    assert schema.options["provider_type"]["automatic"] == dict((t, v) for v, t in PROVIDER_TYPES)["Automatic"]
    assert schema.options["lcl_event"] == {t.lower(): v for v, t in LCL_EVENTS}
    assert schema.options["provisioning_status"]["awaiting_provisioning"] == PROVISIONING_STATUSES[0][0]
    assert schema.options["lcl_status"]["archived"] == LCL_STATUS_ARCHIVED
    assert schema.states["lcl_status"] == {"active": 0, "archived": 1}


async def test_overrides_win_and_bad_ones_name_the_key(sandbox: Sandbox) -> None:
    async with DataverseClient(sandbox.dataverse_url) as dv:
        pinned = await discover(dv, SchemaOverrides(options={"lcl_status": {"archived": 42}},
                                                    navigation={"provideraccount": {"account": "Pinned_Nav"}}))
        assert pinned.table("provideraccount").navigation["account"] == "Pinned_Nav"
        assert pinned.options["lcl_status"]["archived"] == 42
        with pytest.raises(SchemaError, match=r"\[profiles.<name>.schema.columns.licensechangelog\] quantity"):
            await discover(dv, SchemaOverrides(columns={"licensechangelog": {"quantity": "work365_qty"}}))
        with pytest.raises(SchemaError, match=r"schema.entities\] licensechangelog"):
            await discover(dv, SchemaOverrides(entities={"licensechangelog": "work365_nothing"}))
        with pytest.raises(SchemaError, match="subscription"):
            await discover(dv, SchemaOverrides(entities={"subscription": "work365_subs"}))


async def test_the_schema_is_cached_per_org(sandbox: Sandbox, tmp_path: Path) -> None:
    async with DataverseClient(sandbox.dataverse_url) as dv:
        first, organization, _ = await load_schema(dv, cache_root=tmp_path)
        cached = list((tmp_path / "schema").glob("*.json"))
        assert [p.stem for p in cached] == [organization]
        probe = sandbox.faults.add("latency", path="EntityDefinitions", delay=0)
        second, _, _ = await load_schema(dv, cache_root=tmp_path)
        assert probe.hits == 0  # no metadata requests: the cache served
        assert second == first
        await load_schema(dv, cache_root=tmp_path, refresh=True)
        assert probe.hits > 0
        cached[0].write_text('{"version": 0}')
        third, _, _ = await load_schema(dv, cache_root=tmp_path)
        assert third == first  # an outdated cache is rediscovered

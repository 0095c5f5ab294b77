"""EntityDefinitions: what the app discovers the Work 365 schema from."""

from __future__ import annotations

import httpx

from w365tui.sandbox.schema import (
    LCL_EVENTS,
    LCL_STATUS_ARCHIVED,
    PROVIDER_TYPES,
    PROVISIONING_STATUSES,
)

from .test_dataverse_query import assert_error


def test_entity_set_and_primary_attributes(dv: httpx.Client) -> None:
    response = dv.get("EntityDefinitions(LogicalName='work365_licensechangelog')",
                      params={"$select": "EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["EntitySetName"] == "work365_licensechangelogs"
    assert body["PrimaryIdAttribute"] == "work365_licensechangelogid"
    assert body["PrimaryNameAttribute"] == "work365_name"
    assert "LogicalName" not in body  # $select is honoured
    assert_error(dv.get("EntityDefinitions(LogicalName='work365_nosuch')"), 404, "0x80040217")


def test_entity_list_filter(dv: httpx.Client) -> None:
    body = dv.get("EntityDefinitions", params={
        "$select": "LogicalName,EntitySetName",
        "$filter": "LogicalName eq 'work365_provider' or LogicalName eq 'work365_provideraccount'"}).json()
    assert {(e["LogicalName"], e["EntitySetName"]) for e in body["value"]} == {
        ("work365_provider", "work365_providers"), ("work365_provideraccount", "work365_provideraccounts")}


def _options(dv: httpx.Client, entity: str, cast: str, attribute: str | None = None) -> dict[str, list[dict]]:
    path = f"EntityDefinitions(LogicalName='{entity}')/Attributes"
    if attribute:
        path += f"(LogicalName='{attribute}')"
    response = dv.get(f"{path}/Microsoft.Dynamics.CRM.{cast}", params={"$select": "LogicalName", "$expand": "OptionSet"})
    assert response.status_code == 200, response.text
    body = response.json()
    rows = [body] if attribute else body["value"]
    return {row["LogicalName"]: row["OptionSet"]["Options"] for row in rows}


def label(option: dict) -> str:
    return option["Label"]["UserLocalizedLabel"]["Label"]


def test_picklist_option_sets(dv: httpx.Client) -> None:
    lcl = _options(dv, "work365_licensechangelog", "PicklistAttributeMetadata")
    assert {label(o): o["Value"] for o in lcl["work365_event"]} == {text: value for value, text in LCL_EVENTS}
    assert {label(o): o["Value"] for o in lcl["work365_provisioningstatus"]} == {
        text: value for value, text in PROVISIONING_STATUSES}
    provider = _options(dv, "work365_provider", "PicklistAttributeMetadata", "work365_providertype")
    assert {label(o): o["Value"] for o in provider["work365_providertype"]} == {t: v for v, t in PROVIDER_TYPES}


def test_status_reasons_carry_their_state(dv: httpx.Client) -> None:
    statuses = _options(dv, "work365_licensechangelog", "StatusAttributeMetadata")["statuscode"]
    archived = next(o for o in statuses if label(o) == "Archived")
    assert (archived["Value"], archived["State"]) == (LCL_STATUS_ARCHIVED, 1)
    states = _options(dv, "work365_licensechangelog", "StateAttributeMetadata")["statecode"]
    assert {label(o): o["DefaultStatus"] for o in states} == {"Active": 1, "Inactive": LCL_STATUS_ARCHIVED}


def test_attributes_and_lookup_targets(dv: httpx.Client) -> None:
    body = dv.get("EntityDefinitions(LogicalName='work365_subscription')/Attributes",
                  params={"$select": "LogicalName,AttributeType"}).json()
    types = {a["LogicalName"]: a["AttributeType"] for a in body["value"]}
    assert types["work365_quantity"] == "Integer"
    assert types["work365_billingcontract"] == "Lookup"
    assert types["work365_effectivestartdate"] == "DateTime"
    lookups = dv.get("EntityDefinitions(LogicalName='work365_subscription')/Attributes/"
                     "Microsoft.Dynamics.CRM.LookupAttributeMetadata", params={"$select": "LogicalName,Targets"}).json()
    assert {a["LogicalName"]: a["Targets"] for a in lookups["value"]}["work365_provider"] == ["work365_provider"]
    assert_error(dv.get("EntityDefinitions(LogicalName='account')/Attributes", params={"$select": "Bogus"}), 400, "0x0")


def test_navigation_property_names_come_from_relationships(dv: httpx.Client) -> None:
    body = dv.get("EntityDefinitions(LogicalName='work365_provideraccount')/ManyToOneRelationships", params={
        "$select": "ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName"}).json()
    navs = {r["ReferencingAttribute"]: (r["ReferencedEntity"], r["ReferencingEntityNavigationPropertyName"])
            for r in body["value"]}
    assert navs["work365_account"] == ("account", "work365_Account")
    assert navs["work365_provider"] == ("work365_provider", "work365_Provider")
    one_to_many = dv.get("EntityDefinitions(LogicalName='work365_subscription')/OneToManyRelationships", params={
        "$select": "ReferencingEntity,ReferencedEntityNavigationPropertyName"}).json()["value"]
    assert {"ReferencingEntity": "work365_licensechangelog",
            "ReferencedEntityNavigationPropertyName": "work365_subscription_licensechangelogs"} in [
        {k: v for k, v in r.items() if k in ("ReferencingEntity", "ReferencedEntityNavigationPropertyName")}
        for r in one_to_many]


def test_type_specific_properties_need_a_cast(dv: httpx.Client) -> None:
    base = "EntityDefinitions(LogicalName='work365_provideraccount')/Attributes"
    assert_error(dv.get(base, params={"$select": "LogicalName,MaxLength"}), 400, "0x0", "MaxLength")
    strings = dv.get(f"{base}/Microsoft.Dynamics.CRM.StringAttributeMetadata", params={"$select": "LogicalName,MaxLength"})
    lengths = {a["LogicalName"]: a["MaxLength"] for a in strings.json()["value"]}
    assert lengths["work365_provideraccount_name"] == 200

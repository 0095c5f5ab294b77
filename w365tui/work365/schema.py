"""Discovering a Work 365 schema from an org's metadata.

Work 365 environments differ: which table holds license change logs, what the quantity column
is called, which integer means Archived. The publicly documented names (SPEC §2) are tried
first and checked against the metadata; the rest is found by what the metadata says about a
column (its type, what a lookup points at, the labels of an option set). Anything can be
pinned in the settings file's ``schema`` tables, and a guess that finds nothing — or more than
one candidate — is an error that names the settings key to set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from w365tui.clients.odata import DataverseClient, EntityMetadata
from w365tui.domain.enums import LclEvent, LclStatus, ProviderType, ProvisioningStatus
from w365tui.settings import SchemaOverrides

SCHEMA_VERSION = 3


class SchemaError(Exception):
    """The schema cannot be worked out; the message says which settings key would settle it."""


@dataclass(frozen=True)
class Table:
    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str
    columns: dict[str, str] = field(default_factory=dict)  # field → column logical name
    navigation: dict[str, str] = field(default_factory=dict)  # field → navigation property (for binds)
    collections: dict[str, str] = field(default_factory=dict)  # name → collection navigation property
    max_lengths: dict[str, int] = field(default_factory=dict)  # field → most characters the column holds

    def column(self, name: str) -> str:
        try:
            return self.columns[name]
        except KeyError:
            raise SchemaError(f"{self.logical_name} has no column for {name!r}") from None

    def nav(self, name: str) -> str:
        try:
            return self.navigation[name]
        except KeyError:
            raise SchemaError(f"{self.logical_name} has no navigation property for {name!r}") from None


@dataclass(frozen=True)
class Work365Schema:
    tables: dict[str, Table]
    options: dict[str, dict[str, int]]  # option set → meaning → value
    states: dict[str, dict[str, int]]  # e.g. lcl_status → {"archived": 1} (the statecode of each reason)

    def table(self, role: str) -> Table:
        return self.tables[role]

    def value(self, option_set: str, meaning: str) -> int:
        try:
            return self.options[option_set][meaning]
        except KeyError:
            raise SchemaError(f"no value is known for {option_set}.{meaning}; set it under "
                              f"[profiles.<name>.schema.options.{option_set}]") from None

    def meaning(self, option_set: str, value: int | None) -> str | None:
        if value is None:
            return None
        return next((m for m, v in self.options.get(option_set, {}).items() if v == value), None)

    def to_json(self) -> dict[str, Any]:
        return {"tables": {k: asdict(v) for k, v in self.tables.items()}, "options": self.options, "states": self.states}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Work365Schema:
        return cls({k: Table(**v) for k, v in data["tables"].items()}, data["options"], data["states"])


def _norm(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.casefold()).strip("_")


# What each option set's values mean, found by label.
OPTION_MEANINGS: dict[str, tuple[str, ...]] = {
    "provider_type": tuple(m.value for m in ProviderType),
    "lcl_event": tuple(m.value for m in LclEvent),
    "provisioning_status": tuple(m.value for m in ProvisioningStatus),
}
REQUIRED_OPTIONS = {
    "provider_type": ("automatic", "manual"),
    "lcl_event": ("create", "update", "deactivate"),
    "provisioning_status": ("awaiting_provisioning", "failed_provisioning", "not_applicable"),
}

# Publicly documented names (SPEC §2), checked against the metadata before use.
KNOWN_TABLES = {"subscription": "work365_subscription", "billingcontract": "work365_billingcontract",
                "provideraccount": "work365_provideraccount", "account": "account", "invoice": "invoice",
                "contact": "contact"}
KNOWN_COLUMNS = {
    "subscription": {"customer": "work365_subscription_customer", "billingcontract": "work365_billingcontract",
                     "product": "work365_product", "effectivestartdate": "work365_effectivestartdate",
                     "name": "work365_subscriptionname", "friendlyname": "work365_friendlyname",
                     "billablestatus": "work365_billablestatus", "parentsubscription": "work365_parentsubscription"},
    "provideraccount": {"name": "work365_provideraccount_name", "account": "work365_account",
                        "providerspecificid": "work365_providerspecificaccountid", "provider": "work365_provider"},
    "account": {"name": "name", "website": "websiteurl", "email": "emailaddress1", "primarycontact": "primarycontactid"},
    "contact": {"email": "emailaddress1", "name": "fullname"},
    "invoice": {"name": "name", "number": "invoicenumber", "customer": "customerid",
                "billingcontract": "work365_invoice_billingcontract"},
}


class _Discovery:
    def __init__(self, metadata: dict[str, EntityMetadata], overrides: SchemaOverrides):
        self.metadata = metadata
        self.overrides = overrides

    def one(self, what: str, key: str, candidates: Iterable[str]) -> str:
        found = sorted(set(candidates))
        if len(found) == 1:
            return found[0]
        if not found:
            raise SchemaError(f"cannot find {what}; set {key} in the settings file")
        raise SchemaError(f"{what} is ambiguous ({', '.join(found)}); set {key} in the settings file")

    def column(self, role: str, field_name: str, meta: EntityMetadata,
               test: Callable[[str, str], bool] | None = None) -> str:
        key = f"[profiles.<name>.schema.columns.{role}] {field_name}"
        pinned = self.overrides.columns.get(role, {}).get(field_name)
        if pinned:
            if pinned not in meta.attributes:
                raise SchemaError(f"{key} = {pinned!r} is not a column of {meta.logical_name}")
            return pinned
        known = KNOWN_COLUMNS.get(role, {}).get(field_name)
        if known and known in meta.attributes:
            return known
        if test is None:
            raise SchemaError(f"{meta.logical_name} has no column {known!r}; set {key} in the settings file")
        return self.one(f"the {field_name} column of {meta.logical_name}", key,
                        (name for name, kind in meta.attributes.items() if test(name, kind)))

    def lookup_to(self, meta: EntityMetadata, target: str) -> Callable[[str, str], bool]:
        return lambda name, kind: kind == "Lookup" and target in meta.targets.get(name, [])

    def option_column(self, meta: EntityMetadata, labels: tuple[str, ...]) -> Callable[[str, str], bool]:
        wanted = set(labels)
        return lambda name, kind: kind == "Picklist" and wanted <= {_norm(label) for label in meta.options.get(name, {}).values()}


async def discover(dv: DataverseClient, overrides: SchemaOverrides | None = None) -> Work365Schema:
    """Work out the schema from ``EntityDefinitions``, then apply the settings' overrides."""
    overrides = overrides or SchemaOverrides()
    listing = await dv.http.request_json("GET", "EntityDefinitions", params={"$select": "LogicalName"})
    names = [e["LogicalName"] for e in listing.get("value", []) if isinstance(e, dict) and "LogicalName" in e]
    custom = [n for n in names if n.startswith("work365_")]

    metadata: dict[str, EntityMetadata] = {}

    async def meta_of(logical: str) -> EntityMetadata:
        if logical not in metadata:
            metadata[logical] = await dv.entity_metadata(logical)
        return metadata[logical]

    roles: dict[str, str] = {}
    for role, known in KNOWN_TABLES.items():
        roles[role] = overrides.entities.get(role, known)
    for role, logical in roles.items():
        if logical not in names:
            raise SchemaError(f"the org has no table {logical!r} for {role}; set "
                              f"[profiles.<name>.schema.entities] {role} in the settings file")
    for logical in roles.values():
        await meta_of(logical)
    found = _Discovery(metadata, overrides)
    subscription = metadata[roles["subscription"]]

    async def find_table(role: str, what: str, hint: Callable[[str], bool],
                         qualifies: Callable[[EntityMetadata], bool]) -> str:
        """Tables whose name suggests the role are looked at first, then every other custom table."""
        key = f"[profiles.<name>.schema.entities] {role}"
        if role in overrides.entities:
            logical = overrides.entities[role]
            if logical not in names:
                raise SchemaError(f"{key} = {logical!r} is not a table of this org")
            await meta_of(logical)
            return logical
        hinted = [n for n in custom if hint(n)]
        for group in (hinted, [n for n in custom if n not in hinted]):
            matches = [n for n in group if qualifies(await meta_of(n))]
            if matches:
                return found.one(what, key, matches)
        raise SchemaError(f"cannot find {what}; set {key} in the settings file")

    def has_column(test_of: Callable[[EntityMetadata], Callable[[str, str], bool]]) -> Callable[[EntityMetadata], bool]:
        return lambda meta: any(test_of(meta)(a, k) for a, k in meta.attributes.items())

    # The provider table: a custom table whose picklist holds Automatic and Manual.
    roles["provider"] = await find_table(
        "provider", "the provider table", lambda n: n.endswith("provider"),
        has_column(lambda m: found.option_column(m, ("automatic", "manual"))))
    provider = metadata[roles["provider"]]
    # The license change log table: a lookup to subscriptions and a picklist with Create and Deactivate.
    roles["licensechangelog"] = await find_table(
        "licensechangelog", "the license change log table", lambda n: "changelog" in n or "lcl" in n,
        lambda m: has_column(lambda x: found.lookup_to(x, subscription.logical_name))(m)
        and has_column(lambda x: found.option_column(x, ("create", "deactivate")))(m))
    lcl = metadata[roles["licensechangelog"]]
    provideraccount = metadata[roles["provideraccount"]]
    billing = metadata[roles["billingcontract"]]
    account = metadata[roles["account"]]

    def name_has(*parts: str, kinds: tuple[str, ...]) -> Callable[[str, str], bool]:
        return lambda name, kind: kind in kinds and all(p in name for p in parts)

    columns: dict[str, dict[str, str]] = {
        "provider": {
            "name": provider.primary_name,
            "internalname": found.column("provider", "internalname", provider, name_has("internalname", kinds=("String",))),
            "type": found.column("provider", "type", provider, found.option_column(provider, ("automatic", "manual"))),
        },
        "provideraccount": {
            "name": found.column("provideraccount", "name", provideraccount),
            "account": found.column("provideraccount", "account", provideraccount, found.lookup_to(provideraccount, account.logical_name)),
            "providerspecificid": found.column("provideraccount", "providerspecificid", provideraccount),
            "provider": found.column("provideraccount", "provider", provideraccount, found.lookup_to(provideraccount, provider.logical_name)),
        },
        "account": {f: found.column("account", f, account) for f in ("name", "website", "email", "primarycontact")},
        "contact": {f: found.column("contact", f, metadata[roles["contact"]]) for f in ("name", "email")},
        "invoice": {f: found.column("invoice", f, metadata[roles["invoice"]])
                    for f in ("name", "number", "customer", "billingcontract")},
        "billingcontract": {
            "name": billing.primary_name,
            "customer": found.column("billingcontract", "customer", billing, found.lookup_to(billing, account.logical_name)),
            "isdefault": found.column("billingcontract", "isdefault", billing, name_has("default", kinds=("Boolean",))),
        },
        "subscription": {
            **{f: found.column("subscription", f, subscription) for f in
               ("customer", "billingcontract", "product", "effectivestartdate", "name")},
            "quantity": found.column("subscription", "quantity", subscription, name_has("quantity", kinds=("Integer",))),
            "provider": found.column("subscription", "provider", subscription, found.lookup_to(subscription, provider.logical_name)),
            "provideraccount": found.column("subscription", "provideraccount", subscription,
                                            found.lookup_to(subscription, provideraccount.logical_name)),
            "providersubscriptionid": found.column("subscription", "providersubscriptionid", subscription,
                                                   name_has("provider", "subscriptionid", kinds=("String",))),
            "partnumber": found.column("subscription", "partnumber", subscription, name_has("partnumber", kinds=("String",))),
        },
        "licensechangelog": {
            "name": lcl.primary_name,
            "subscription": found.column("licensechangelog", "subscription", lcl, found.lookup_to(lcl, subscription.logical_name)),
            "account": found.column("licensechangelog", "account", lcl, found.lookup_to(lcl, account.logical_name)),
            "event": found.column("licensechangelog", "event", lcl, found.option_column(lcl, ("create", "deactivate"))),
            "quantity": found.column("licensechangelog", "quantity", lcl, name_has("quantity", kinds=("Integer",))),
            "effectivedate": found.column("licensechangelog", "effectivedate", lcl, name_has("effective", kinds=("DateTime",))),
            "provisioningstatus": found.column("licensechangelog", "provisioningstatus", lcl,
                                               found.option_column(lcl, ("awaiting_provisioning",))),
            "invoice": found.column("licensechangelog", "invoice", lcl, found.lookup_to(lcl, "invoice")),
        },
    }

    tables: dict[str, Table] = {}
    for role, logical in roles.items():
        meta = metadata[logical]
        role_columns = columns.get(role, {})
        navigation = {f: meta.navigation[c] for f, c in role_columns.items() if c in meta.navigation}
        navigation.update(overrides.navigation.get(role, {}))
        lengths = {f: meta.max_lengths[c] for f, c in role_columns.items() if c in meta.max_lengths}
        tables[role] = Table(logical, meta.entity_set, meta.primary_id, meta.primary_name, role_columns, navigation,
                             max_lengths=lengths)
    lcl_collection = overrides.navigation.get("subscription", {}).get("lcls") or subscription.collections.get(
        (lcl.logical_name, columns["licensechangelog"]["subscription"]))
    if lcl_collection is None:
        lcl_collection = lcl_meta_collection(metadata, lcl.logical_name, columns["licensechangelog"]["subscription"])
    tables["subscription"] = Table(**{**asdict(tables["subscription"]), "collections": {"lcls": lcl_collection}})

    options: dict[str, dict[str, int]] = {}
    sources = {"provider_type": (provider, columns["provider"]["type"]),
               "lcl_event": (lcl, columns["licensechangelog"]["event"]),
               "provisioning_status": (lcl, columns["licensechangelog"]["provisioningstatus"])}
    for option_set, (meta, column) in sources.items():
        by_label = {_norm(label): value for value, label in meta.options.get(column, {}).items()}
        options[option_set] = {m: by_label[m] for m in OPTION_MEANINGS[option_set] if m in by_label}
    status_labels = {_norm(label): value for value, label in lcl.options.get("statuscode", {}).items()}
    options["lcl_status"] = {m.value: status_labels[m.value] for m in LclStatus if m.value in status_labels}
    sub_status = {_norm(label): value for value, label in subscription.options.get("statuscode", {}).items()}
    options["subscription_status"] = {k: v for k, v in sub_status.items()}
    for option_set, pinned in overrides.options.items():
        options.setdefault(option_set, {}).update(pinned)
    for option_set, meanings in {**REQUIRED_OPTIONS, "lcl_status": ("active", "archived")}.items():
        for meaning in meanings:
            if meaning not in options.get(option_set, {}):
                raise SchemaError(f"no option of {option_set} means {meaning!r}; set "
                                  f"[profiles.<name>.schema.options.{option_set}] {meaning} in the settings file")
    states = {
        "lcl_status": {m: lcl.status_state.get(v, 0) for m, v in options["lcl_status"].items()},
        "subscription_status": {m: subscription.status_state.get(v, 0) for m, v in options["subscription_status"].items()},
    }
    return Work365Schema(tables, options, states)


def lcl_meta_collection(metadata: dict[str, EntityMetadata], lcl: str, lookup: str) -> str:
    for meta in metadata.values():
        if (lcl, lookup) in meta.collections:
            return meta.collections[(lcl, lookup)]
    raise SchemaError(f"no collection navigation property leads from subscriptions to {lcl}; set "
                      "[profiles.<name>.schema.navigation.subscription] lcls in the settings file")


def cache_path(cache_root: Path, organization_id: str) -> Path:
    return cache_root / "schema" / f"{organization_id}.json"


def load_cached(path: Path) -> Work365Schema | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != SCHEMA_VERSION:
            return None
        return Work365Schema.from_json(data["schema"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_cached(path: Path, schema: Work365Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"version": SCHEMA_VERSION, "schema": schema.to_json()}, indent=1), encoding="utf-8")
    temporary.replace(path)

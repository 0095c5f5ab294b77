"""The Work 365 schema: one declarative table of the roles the app reads and writes, and its
discovery from an org's metadata.

Work 365 environments differ: which table holds license change logs, what the quantity column
is called, which integer means Archived. :data:`ROLES` names every table role and every field
the app uses once — its kind, its documented name, how to recognise it — and that one table
drives discovery, the ``$select`` of every read, the mapping of rows to domain values and the
compiling of plans. The publicly documented names (SPEC §2) are tried first and checked
against the metadata; the rest is found by what the metadata says about a column (its type,
what a lookup points at, the labels of an option set). Anything can be pinned in the settings
file's ``schema`` tables, and a guess that finds nothing — or more than one candidate — is an
error that names the settings key to set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from w365tui.clients.odata import DataverseClient, EntityMetadata
from w365tui.domain.enums import (
    BillingFrequency,
    BillingPolicy,
    LclEvent,
    LclStatus,
    ProviderType,
    ProvisioningStatus,
)
from w365tui.settings import SchemaOverrides

T = TypeVar("T")

SCHEMA_VERSION = 8

# Field kinds, and the metadata AttributeType each is found by.
TEXT, INT, DATE, BOOL, MONEY, LOOKUP, OPTION = "text", "int", "date", "bool", "money", "lookup", "option"
_ATTRIBUTE_TYPES = {TEXT: ("String", "Memo"), INT: ("Integer",), DATE: ("DateTime",), BOOL: ("Boolean",),
                    MONEY: ("Money", "Decimal")}


class SchemaError(Exception):
    """The schema cannot be worked out; the message says which settings key would settle it."""


@dataclass(frozen=True)
class FieldSpec:
    """One field of a role: how the app names it, what kind it is, how to find its column."""

    name: str
    kind: str
    known: str | None = None  # the documented logical name, tried first
    target: str | None = None  # LOOKUP: the role it points at
    option_set: str | None = None  # OPTION: the option set its values belong to
    labels: tuple[str, ...] = ()  # OPTION: labels its options must include to be recognised
    hint: tuple[str, ...] = ()  # words the column's logical name holds, to find it by
    primary_name: bool = False  # the table's primary name column
    model: str | None = None  # the domain model's attribute (None: not on the model)
    required: bool = True


@dataclass(frozen=True)
class RoleSpec:
    role: str
    known: str | None  # the documented table; None: found by ``hint`` and ``signature``
    fields: tuple[FieldSpec, ...]
    hint: tuple[str, ...] = ()  # words a table's logical name holds to be looked at first
    signature: tuple[str, ...] = ()  # fields a table must have to be this role
    status_set: str | None = None  # the option set of its status reasons (default ``<role>_status``)

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise SchemaError(f"the role {self.role} has no field {name!r}")

    @property
    def statuses(self) -> str:
        return self.status_set or f"{self.role}_status"


F = FieldSpec
#: Every table role and field the app uses. Roles are resolved in this order (a lookup's
#: target before the lookup; a discovered table after the tables its signature points at).
ROLES: dict[str, RoleSpec] = {spec.role: spec for spec in (
    RoleSpec("account", "account", (
        F("name", TEXT, "name", model="name"),
        F("website", TEXT, "websiteurl", model="website"),
        F("email", TEXT, "emailaddress1", model="email"),
        F("city", TEXT, "address1_city", model="city", required=False),
        F("number", TEXT, "accountnumber", model="number", required=False),
        F("primarycontact", LOOKUP, "primarycontactid", target="contact"),
    )),
    RoleSpec("contact", "contact", (
        F("name", TEXT, "fullname"),
        F("email", TEXT, "emailaddress1"),
    )),
    RoleSpec("provider", None, (
        F("name", TEXT, primary_name=True, model="name"),
        F("internalname", TEXT, hint=("internalname",), model="internal_name"),
        F("type", OPTION, option_set="provider_type", labels=("automatic", "manual"), model="type"),
    ), hint=("provider",), signature=("type",)),
    RoleSpec("provideraccount", "work365_provideraccount", (
        F("name", TEXT, "work365_provideraccount_name", primary_name=True, model="name"),
        F("providerspecificid", TEXT, "work365_provideraccount_providerspecificaccountid", hint=("providerspecific",),
          model="provider_specific_id"),
        F("provider", LOOKUP, "work365_provideraccount_provider", target="provider", model="provider_id"),
        F("account", LOOKUP, "work365_provideraccount_account", target="account", model="account_id"),
    )),
    RoleSpec("billingcontract", "work365_billingcontract", (
        F("name", TEXT, primary_name=True, model="name"),
        F("customer", LOOKUP, target="account", model="customer_id"),
        F("isdefault", BOOL, hint=("default",), model="is_default"),
        F("startdate", DATE, hint=("startdate",), model="start_date", required=False),
        F("enddate", DATE, hint=("enddate",), model="end_date", required=False),
        F("billingfrequency", OPTION, option_set="billing_frequency", labels=("monthly", "annual"),
          model="billing_frequency", required=False),
        F("billingpolicy", OPTION, option_set="billing_policy", labels=("advance", "arrears"), model="billing_policy",
          required=False),
        F("currency", LOOKUP, "transactioncurrencyid", target="transactioncurrency", required=False),
        F("pricelist", LOOKUP, target="pricelevel", required=False),
    )),
    RoleSpec("invoice", "invoice", (
        F("name", TEXT, "name", model="name"),
        F("number", TEXT, "invoicenumber", model="number"),
        F("customer", LOOKUP, "customerid", target="account", model="account_id"),
        F("billingcontract", LOOKUP, "work365_invoice_billingcontract", target="billingcontract",
          model="billing_contract_id"),
    )),
    RoleSpec("subscription", "work365_subscription", (
        F("name", TEXT, "work365_subscription_subscriptionname", primary_name=True, model="name"),
        F("customer", LOOKUP, "work365_subscription_customer", target="account", model="customer_id"),
        F("billingcontract", LOOKUP, "work365_subscription_billingcontract", target="billingcontract",
          model="billing_contract_id"),
        F("product", LOOKUP, "work365_subscription_product", target="product", model="product_id", required=False),
        F("effectivestartdate", DATE, "work365_subscription_effectivestartdate", hint=("effective",),
          model="effective_start_date"),
        F("quantity", INT, hint=("quantity",), model="quantity"),
        F("provider", LOOKUP, target="provider", model="provider_id"),
        F("provideraccount", LOOKUP, target="provideraccount", model="provider_account_id"),
        F("providersubscriptionid", TEXT, hint=("provider", "subscriptionid"), model="provider_subscription_id"),
        F("partnumber", TEXT, hint=("partnumber",), model="part_number"),
        F("sellingprice", MONEY, hint=("sellingprice",), model="selling_price", required=False),
        F("costprice", MONEY, hint=("costprice",), model="cost_price", required=False),
        F("currency", LOOKUP, "transactioncurrencyid", target="transactioncurrency", required=False),
    ), status_set="subscription_status"),
    RoleSpec("licensechangelog", None, (
        F("name", TEXT, primary_name=True, model="name"),
        F("subscription", LOOKUP, target="subscription", model="subscription_id"),
        F("account", LOOKUP, target="account", model="account_id"),
        F("event", OPTION, option_set="lcl_event", labels=("create", "deactivate"), model="event"),
        F("quantity", INT, hint=("quantity",), model="quantity"),
        F("effectivedate", DATE, hint=("effective",), model="effective_date"),
        F("provisioningstatus", OPTION, option_set="provisioning_status", labels=("awaiting_provisioning",),
          model="provisioning_status"),
        F("invoice", LOOKUP, target="invoice", model="invoice_id"),
        F("sellingprice", MONEY, hint=("sellingprice",), model="selling_price", required=False),
        F("costprice", MONEY, hint=("costprice",), model="cost_price", required=False),
    ), hint=("licensechangelog", "changelog", "lcl"), signature=("subscription", "event", "provisioningstatus"),
        status_set="lcl_status"),
)}

# Tables a lookup may point at without being a role of their own.
EXTRA_TARGETS = {"product": "product", "transactioncurrency": "transactioncurrency", "pricelevel": "pricelevel"}

# What each option set's values mean, found by label; the meanings that must be found.
OPTION_MEANINGS: dict[str, tuple[str, ...]] = {
    "provider_type": tuple(m.value for m in ProviderType),
    "lcl_event": tuple(m.value for m in LclEvent),
    "provisioning_status": tuple(m.value for m in ProvisioningStatus),
    "billing_frequency": tuple(m.value for m in BillingFrequency),
    "billing_policy": tuple(m.value for m in BillingPolicy),
}
REQUIRED_OPTIONS = {
    "provider_type": ("automatic", "manual"),
    "lcl_event": ("create", "update", "deactivate"),
    "provisioning_status": ("awaiting_provisioning", "failed_provisioning", "not_applicable"),
    "lcl_status": tuple(m.value for m in LclStatus),
}


@dataclass(frozen=True)
class Table:
    role: str
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
            raise SchemaError(f"{self.logical_name} has no navigation property for {name!r}; set "
                              f"[profiles.<name>.schema.navigation.{self.role}] {name}") from None

    def has(self, name: str) -> bool:
        return name in self.columns

    @property
    def spec(self) -> RoleSpec:
        return ROLES[self.role]


@dataclass(frozen=True)
class Work365Schema:
    tables: dict[str, Table]
    options: dict[str, dict[str, int]]  # option set → meaning → value (status sets included)
    states: dict[str, dict[str, int]]  # status set → meaning → the statecode that status belongs to

    def table(self, role: str) -> Table:
        try:
            return self.tables[role]
        except KeyError:
            raise SchemaError(f"the schema has no table for {role!r}") from None

    def role_of(self, entity_set: str) -> str | None:
        return next((t.role for t in self.tables.values() if t.entity_set == entity_set), None)

    def value(self, option_set: str, meaning: str) -> int:
        try:
            return self.options[option_set][meaning]
        except KeyError:
            raise SchemaError(f"no value is known for {option_set}.{meaning}; set it under "
                              f"[profiles.<name>.schema.options.{option_set}]") from None

    def meaning(self, option_set: str, value: int | None) -> str | None:
        if value is None:
            return None
        meanings = self.memo(("meanings", option_set), lambda: {
            v: m for m, v in reversed(self.options.get(option_set, {}).items())})  # the first meaning wins
        return meanings.get(value)

    def memo(self, key: Any, make: Callable[[], T]) -> T:
        """``make()``, worked out once for this schema (which never changes once made): what
        reading 50,000 rows would otherwise work out again for each."""
        memos: dict[Any, Any] = self.__dict__.setdefault("_memos", {})
        if key not in memos:
            memos[key] = make()
        return memos[key]  # type: ignore[no-any-return]

    def max_length(self, role: str, name: str) -> int | None:
        table = self.tables.get(role)
        return table.max_lengths.get(name) if table else None

    def limits(self) -> dict[str, int | None]:
        """``role.field`` → most characters, for the domain to clip text to."""
        return {f"{t.role}.{f}": n for t in self.tables.values() for f, n in t.max_lengths.items()}

    def to_json(self) -> dict[str, Any]:
        return {"tables": {k: asdict(v) for k, v in self.tables.items()}, "options": self.options, "states": self.states}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Work365Schema:
        return cls({k: Table(**v) for k, v in data["tables"].items()}, data["options"], data["states"])


def _norm(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.casefold()).strip("_")


class _Discovery:
    def __init__(self, metadata: dict[str, EntityMetadata], overrides: SchemaOverrides, logical: dict[str, str]):
        self.metadata = metadata
        self.overrides = overrides
        self.logical = logical  # role → table logical name, as resolved so far

    @staticmethod
    def one(what: str, key: str, candidates: Iterable[str]) -> str:
        found = sorted(set(candidates))
        if len(found) == 1:
            return found[0]
        if not found:
            raise SchemaError(f"cannot find {what}; set {key} in the settings file")
        raise SchemaError(f"{what} is ambiguous ({', '.join(found)}); set {key} in the settings file")

    def test(self, spec: FieldSpec, meta: EntityMetadata) -> Callable[[str, str], bool] | None:
        """How a column qualifies as ``spec`` when its documented name is absent."""
        if spec.kind == LOOKUP:
            target = self.logical.get(spec.target or "") or EXTRA_TARGETS.get(spec.target or "")
            return lambda name, kind: kind == "Lookup" and target in meta.targets.get(name, [])
        if spec.kind == OPTION:
            wanted = set(spec.labels)
            return lambda name, kind: kind == "Picklist" and wanted <= {
                _norm(label) for label in meta.options.get(name, {}).values()}
        if spec.hint:
            kinds = _ATTRIBUTE_TYPES[spec.kind]
            return lambda name, kind: kind in kinds and all(part in name for part in spec.hint)
        return None

    def column(self, role: str, spec: FieldSpec, meta: EntityMetadata) -> str | None:
        key = f"[profiles.<name>.schema.columns.{role}] {spec.name}"
        pinned = self.overrides.columns.get(role, {}).get(spec.name)
        if pinned:
            if pinned not in meta.attributes:
                raise SchemaError(f"{key} = {pinned!r} is not a column of {meta.logical_name}")
            return pinned
        if spec.primary_name and meta.primary_name:
            return meta.primary_name
        if spec.known and spec.known in meta.attributes:
            return spec.known
        test = self.test(spec, meta)
        found = sorted(name for name, kind in meta.attributes.items() if test and test(name, kind))
        if not found and not spec.required:
            return None
        if test is None:
            raise SchemaError(f"{meta.logical_name} has no column {spec.known!r}; set {key} in the settings file")
        return self.one(f"the {spec.name} column of {meta.logical_name}", key, found)

    def qualifies(self, spec: RoleSpec, meta: EntityMetadata) -> bool:
        for name in spec.signature:
            test = self.test(spec.field(name), meta)
            if test is None or not any(test(a, k) for a, k in meta.attributes.items()):
                return False
        return True


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

    logical: dict[str, str] = {}
    found = _Discovery(metadata, overrides, logical)
    for spec in ROLES.values():  # the documented (or pinned) tables first: signatures point at them
        key = f"[profiles.<name>.schema.entities] {spec.role}"
        chosen = overrides.entities.get(spec.role, spec.known)
        if chosen is None:
            continue
        if chosen not in names:
            raise SchemaError(f"the org has no table {chosen!r} for {spec.role}; set {key} in the settings file")
        logical[spec.role] = chosen
        await meta_of(chosen)
    for spec in ROLES.values():
        if spec.role in logical:
            continue
        key = f"[profiles.<name>.schema.entities] {spec.role}"
        # Tables named by the most telling hint first, then by the others, then any custom table.
        groups: list[list[str]] = []
        for hint in spec.hint:
            groups.append([n for n in custom if hint in n and not any(n in g for g in groups)])
        groups.append([n for n in custom if not any(n in g for g in groups) and n not in logical.values()])
        for group in groups:
            matches = [n for n in group if found.qualifies(spec, await meta_of(n))]
            if matches:
                logical[spec.role] = found.one(f"the {spec.role} table", key, matches)
                break
        else:
            raise SchemaError(f"cannot find the {spec.role} table; set {key} in the settings file")

    tables: dict[str, Table] = {}
    for spec in ROLES.values():
        meta = metadata[logical[spec.role]]
        columns = {}
        for field_spec in spec.fields:
            column = found.column(spec.role, field_spec, meta)
            if column is not None:
                columns[field_spec.name] = column
        navigation = {f: meta.navigation[c] for f, c in columns.items() if c in meta.navigation}
        navigation.update(overrides.navigation.get(spec.role, {}))
        lengths = {f: meta.max_lengths[c] for f, c in columns.items() if c in meta.max_lengths}
        tables[spec.role] = Table(spec.role, meta.logical_name, meta.entity_set, meta.primary_id, meta.primary_name,
                                  columns, navigation, max_lengths=lengths)
    subscription, lcl = tables["subscription"], tables["licensechangelog"]
    lcl_collection = overrides.navigation.get("subscription", {}).get("lcls") or _collection(
        metadata, lcl.logical_name, lcl.column("subscription"))
    tables["subscription"] = Table(**{**asdict(subscription), "collections": {"lcls": lcl_collection}})

    options: dict[str, dict[str, int]] = {}
    states: dict[str, dict[str, int]] = {}
    for spec in ROLES.values():
        table = tables[spec.role]
        meta = metadata[table.logical_name]
        for field_spec in spec.fields:
            if field_spec.kind == OPTION and field_spec.name in table.columns:
                by_label = {_norm(label): value for value, label in meta.options.get(table.columns[field_spec.name], {}).items()}
                wanted = OPTION_MEANINGS.get(field_spec.option_set or "", tuple(by_label))
                options[field_spec.option_set or field_spec.name] = {m: by_label[m] for m in wanted if m in by_label}
        statuses = {_norm(label): value for value, label in meta.options.get("statuscode", {}).items()}
        if statuses:
            options[spec.statuses] = statuses
            states[spec.statuses] = {m: meta.status_state.get(v, 0) for m, v in statuses.items()}
    for option_set, pinned in overrides.options.items():
        options.setdefault(option_set, {}).update(pinned)
    for option_set, meanings in REQUIRED_OPTIONS.items():
        for meaning in meanings:
            if meaning not in options.get(option_set, {}):
                raise SchemaError(f"no option of {option_set} means {meaning!r}; set "
                                  f"[profiles.<name>.schema.options.{option_set}] {meaning} in the settings file")
    for option_set, pinned in overrides.options.items():  # a pinned status reason: its state from the metadata
        spec = next((s for s in ROLES.values() if s.statuses == option_set), None)
        if spec is not None:
            meta = metadata[tables[spec.role].logical_name]
            states.setdefault(option_set, {}).update(
                {m: meta.status_state.get(v, 0 if m == "active" else 1) for m, v in pinned.items()})
    return Work365Schema(tables, options, states)


def _collection(metadata: dict[str, EntityMetadata], lcl: str, lookup: str) -> str:
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


async def load_schema(dv: DataverseClient, overrides: SchemaOverrides | None = None, *, cache_root: Path | None = None,
                      refresh: bool = False) -> tuple[Work365Schema, str, str]:
    """Identify the org, then load its schema from the cache or discover it (and cache it).

    Returns the schema, the organization id and the signed-in user's id.
    """
    who = await dv.whoami()
    organization = str(who["OrganizationId"])
    schema = None
    path = cache_path(cache_root, organization) if cache_root is not None else None
    if path is not None and not refresh:
        schema = load_cached(path)
    if schema is None:
        schema = await discover(dv, overrides)
        if path is not None:
            save_cached(path, schema)
    return schema, organization, str(who["UserId"])

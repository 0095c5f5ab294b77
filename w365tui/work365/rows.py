"""Rows on the wire ↔ values in domain terms, driven by the schema's declarative table.

Reading: which columns to ``$select`` for a role, and a row turned into field values (lookups
as UUIDs, option sets as meanings, dates as dates) or into the domain model. Writing: field
values of a plan turned into a request body (lookups as ``@odata.bind``, meanings as the org's
integers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from w365tui.clients.odata import etag_of, lookup_value
from w365tui.domain.enums import RecordState, SyncStatus
from w365tui.domain.models import (
    Account,
    BillingContract,
    InvoiceRef,
    LicenseChangeLog,
    Provider,
    ProviderAccount,
    ProviderAccountBrief,
    Subscription,
)
from w365tui.domain.plan import Current, Option, Ref, State, Value
from w365tui.work365.schema import (
    BOOL,
    DATE,
    INT,
    LOOKUP,
    MONEY,
    OPTION,
    ROLES,
    TEXT,
    FieldSpec,
    SchemaError,
    Work365Schema,
)

MODELS: dict[str, type] = {"provider": Provider, "provideraccount": ProviderAccount, "account": Account,
                           "billingcontract": BillingContract, "subscription": Subscription,
                           "licensechangelog": LicenseChangeLog, "invoice": InvoiceRef}
_STATES = {0: "active", 1: "inactive"}
_STATE_CODES = {"active": 0, "inactive": 1}
_MODEL_DEFAULTS: dict[str, Any] = {"name": "", "quantity": 0, "is_default": False}
#: each model's field names, looked up per row (pydantic's model_fields is a property computed anew)
_MODEL_FIELDS: dict[str, frozenset[str]] = {role: frozenset(cls.model_fields) for role, cls in MODELS.items()}


class RowError(ValueError):
    """A row the schema cannot read; the message names the table and column."""


def wire_name(schema: Work365Schema, role: str, name: str) -> str:
    """The Web API name of a field: ``_x_value`` for lookups, the column otherwise."""
    column = schema.table(role).column(name)
    return lookup_value(column) if ROLES[role].field(name).kind == LOOKUP else column


def select(schema: Work365Schema, role: str, fields: Iterable[str] | None = None) -> list[str]:
    """The ``$select`` of a role's row: its id, the fields (all the role has by default) and its state."""
    table = schema.table(role)
    names = [f.name for f in ROLES[role].fields] if fields is None else list(fields)
    return list(dict.fromkeys([table.primary_id, *(wire_name(schema, role, n) for n in names if table.has(n)),
                               "statecode", "statuscode"]))


def _decode(kind: str, raw: Any, option_set: str | None, schema: Work365Schema) -> Value:
    if raw is None:
        return None
    if kind == LOOKUP:
        return UUID(raw) if isinstance(raw, str) and raw else None
    if kind == OPTION:
        return schema.meaning(option_set or "", raw) if isinstance(raw, int) else None
    if kind == DATE:
        return date.fromisoformat(raw[:10]) if isinstance(raw, str) and raw else None
    if kind == INT:
        return int(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    if kind == MONEY:
        return Decimal(str(raw)) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    if kind == BOOL:
        return bool(raw)
    return raw if isinstance(raw, str) else str(raw)


def _wire_names(schema: Work365Schema, role: str) -> list[tuple[FieldSpec, str | None]]:
    """Each field of the role with its Web API name (None when the org's table lacks it)."""
    table = schema.table(role)
    return [(spec, wire_name(schema, role, spec.name) if table.has(spec.name) else None)
            for spec in ROLES[role].fields]


def decode(schema: Work365Schema, role: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's field values in domain terms, with ``id``, ``etag``, ``state`` and ``status``."""
    table = schema.table(role)
    try:
        values: dict[str, Any] = {"id": UUID(str(row[table.primary_id])), "etag": etag_of(row)}
    except (KeyError, ValueError):
        raise RowError(f"a {table.logical_name} row has no valid {table.primary_id}") from None
    for spec, name in schema.memo(("wire names", role), lambda: _wire_names(schema, role)):
        if name is not None and name in row:
            try:
                values[spec.name] = _decode(spec.kind, row[name], spec.option_set, schema)
            except ValueError:
                raise RowError(f"{table.logical_name} {values['id']}: {name} holds {row[name]!r}") from None
    if "statecode" in row:
        values["state"] = _STATES.get(row["statecode"], "inactive")
    if "statuscode" in row:
        values["status"] = schema.meaning(ROLES[role].statuses, row["statuscode"])
    return values


def model(schema: Work365Schema, role: str, row: Mapping[str, Any]) -> Any:
    """A row as its domain model (:data:`MODELS`)."""
    return MODELS[role](**_fields(schema, role, row))


def provider_account_brief(schema: Work365Schema, row: Mapping[str, Any]) -> ProviderAccountBrief:
    """A provider account row as a list of 100,000 keeps it: what :func:`model` decodes, read
    straight from the columns the brief holds rather than through the generic decoding and a
    pydantic model dropped at once (which took 8 µs a row, a fifth of the list's loading)."""
    role = "provideraccount"
    primary, columns = schema.memo(("brief columns", role), lambda: _brief_columns(schema))
    try:
        values: dict[str, Any] = {"id": UUID(str(row[primary]))}
    except (KeyError, ValueError):
        raise RowError(f"a {schema.table(role).logical_name} row has no valid {primary}") from None
    for field, name, kind, option_set in columns:
        if name not in row:
            continue
        raw = row[name]
        if raw is None:
            continue
        if kind == TEXT:
            values[field] = raw if isinstance(raw, str) else str(raw)
            continue
        known = field == "provider_id" and isinstance(raw, str)
        if known and raw in _PROVIDER_IDS:  # a few providers for 100,000 rows
            values[field] = _PROVIDER_IDS[raw]
            continue
        try:
            values[field] = _decode(kind, raw, option_set, schema)
            if known and len(_PROVIDER_IDS) < 100:
                _PROVIDER_IDS[raw] = values[field]
        except ValueError:
            raise RowError(f"{schema.table(role).logical_name} {values['id']}: {name} holds {raw!r}") from None
    status = values.get("sync_status")
    try:
        sync = SyncStatus(status) if status is not None else None
        state = RecordState(_STATES.get(row["statecode"], "inactive")) if "statecode" in row else RecordState.ACTIVE
    except ValueError:
        raise RowError(f"{role} {values['id']}: the sync status {status!r} is not one the app knows") from None
    return ProviderAccountBrief.made(values["id"], values.get("name") or "", values.get("provider_specific_id"),
                                     values.get("provider_id"), values.get("account_id"), sync, state)


_PROVIDER_IDS: dict[Any, Any] = {}  # a provider's id as the wire has it → read
_BRIEF_FIELDS = frozenset(f.name for f in dataclasses.fields(ProviderAccountBrief)) - {"id", "state"}


def _brief_columns(schema: Work365Schema) -> tuple[str, list[tuple[str, str, str, str | None]]]:
    """The provider account's primary id column, and per field a brief holds: the field's name,
    its Web API name, its kind and option set (the columns the org's table has)."""
    return schema.table("provideraccount").primary_id, [
        (spec.model, name, spec.kind, spec.option_set) for spec, name in _wire_names(schema, "provideraccount")
        if name is not None and spec.model in _BRIEF_FIELDS]


def _fields(schema: Work365Schema, role: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's values under its model's field names, the defaults filled in."""
    values = decode(schema, role, row)
    kwargs: dict[str, Any] = {"id": values["id"], "etag": values["etag"]}
    for spec in ROLES[role].fields:
        if spec.model and spec.name in values:
            value = values[spec.name]
            kwargs[spec.model] = _MODEL_DEFAULTS.get(spec.model) if value is None else value
    fields = _MODEL_FIELDS[role]
    if "state" in values and "state" in fields:
        kwargs["state"] = values["state"]
    if role == "licensechangelog":
        if kwargs.get("event") is None:
            column = schema.table(role).column("event")
            raise RowError(f"license change log {values['id']} has an event value {row.get(column)!r} the schema "
                           "does not know")
        kwargs["subscription_id"] = kwargs.get("subscription_id") or UUID(int=0)
        kwargs["status"] = values.get("status") if values.get("status") in ("active", "archived") else "active"
    for name in ("name", "quantity", "is_default"):
        if name in fields and kwargs.get(name) is None and name in _MODEL_DEFAULTS:
            kwargs[name] = _MODEL_DEFAULTS[name]
    return kwargs


def current(schema: Work365Schema, role: str, row: Mapping[str, Any] | None, fields: Iterable[str]) -> Current | None:
    """What a plan's change needs to know of a row now: ETag, state, some fields."""
    if row is None:
        return None
    values = decode(schema, role, row)
    state = State(values["state"], values.get("status")) if "state" in values else None
    refs = {}
    for name in fields:
        value = values.get(name)
        spec = ROLES[role].field(name) if name not in ("state",) else None
        if spec is not None and spec.kind == LOOKUP and isinstance(value, UUID):
            value = Ref(spec.target or "", value)
        elif spec is not None and spec.kind == OPTION and isinstance(value, str):
            value = Option(spec.option_set or spec.name, value)
        refs[name] = value
    return Current(values["etag"], state, refs)


def encode(schema: Work365Schema, role: str, values: Mapping[str, Value]) -> dict[str, Any]:
    """A request body for field values in domain terms."""
    table = schema.table(role)
    body: dict[str, Any] = {}
    for name, value in values.items():
        spec = ROLES[role].field(name)
        if spec.kind == LOOKUP:
            if value is not None and not isinstance(value, Ref):
                raise SchemaError(f"{role}.{name} is a lookup: it takes a Ref, not {value!r}")
            nav = table.nav(name)
            body[f"{nav}@odata.bind"] = f"/{schema.table(value.role).entity_set}({value.id})" if value else None
        elif spec.kind == OPTION:
            if value is not None and not isinstance(value, Option):
                raise SchemaError(f"{role}.{name} is an option set: it takes an Option, not {value!r}")
            body[table.column(name)] = schema.value(value.set, value.meaning) if value else None
        elif spec.kind == DATE:
            body[table.column(name)] = value.isoformat() if isinstance(value, date) else value
        elif spec.kind == MONEY:
            body[table.column(name)] = float(value) if isinstance(value, Decimal) else value
        elif spec.kind in (TEXT, INT, BOOL):
            body[table.column(name)] = value
        else:
            raise SchemaError(f"{role}.{name}: no way to write a {spec.kind} field")
    return body


def encode_state(schema: Work365Schema, role: str, state: State) -> dict[str, Any]:
    """``statecode`` and ``statuscode`` for a state (and status reason) by meaning."""
    if state.state not in _STATE_CODES:
        raise SchemaError(f"unknown state {state.state!r}")
    code = _STATE_CODES[state.state]
    status_set = ROLES[role].statuses
    if state.status is not None:
        return {"statecode": code, "statuscode": schema.value(status_set, state.status)}
    belongs = schema.states.get(status_set, {})
    candidates = sorted(schema.options.get(status_set, {})[m] for m, s in belongs.items() if s == code)
    return {"statecode": code, "statuscode": candidates[0]} if candidates else {"statecode": code}

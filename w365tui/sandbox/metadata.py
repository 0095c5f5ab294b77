"""``EntityDefinitions``: the metadata the sandbox publishes, shaped like Dataverse's.

Entity set names, primary attributes, attributes with their types, option sets (Picklist,
State, Status — with each status reason's state) and the navigation property names of
relationships, so that the app can discover a Work 365 schema here as it does in a real org.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from w365tui.sandbox.errors import CODE_RESOURCE_NOT_FOUND as _NOT_FOUND
from w365tui.sandbox.errors import DataverseError, bad_request
from w365tui.sandbox.odata_query import split_top_level
from w365tui.sandbox.schema import (
    LOOKUP,
    MEMO,
    PICKLIST,
    STATE,
    STATUS,
    STRING,
    Attribute,
    Catalog,
    Entity,
)

_NAMESPACE = uuid.UUID("0d7a6a7e-3c5e-4e0e-9d55-5a4db0c0ffee")
_TYPE_NAMES = {
    "UniqueidentifierType": "Uniqueidentifier",
    "StringType": "String",
    "MemoType": "Memo",
    "IntegerType": "Integer",
    "BigIntType": "BigInt",
    "DecimalType": "Decimal",
    "MoneyType": "Money",
    "DateTimeType": "DateTime",
    "BooleanType": "Boolean",
    "PicklistType": "Picklist",
    "StateType": "State",
    "StatusType": "Status",
    "LookupType": "Lookup",
}
_CAST = {
    "Microsoft.Dynamics.CRM.PicklistAttributeMetadata": {PICKLIST},
    "Microsoft.Dynamics.CRM.StateAttributeMetadata": {STATE},
    "Microsoft.Dynamics.CRM.StatusAttributeMetadata": {STATUS},
    "Microsoft.Dynamics.CRM.LookupAttributeMetadata": {LOOKUP},
    "Microsoft.Dynamics.CRM.StringAttributeMetadata": {STRING},
    "Microsoft.Dynamics.CRM.MemoAttributeMetadata": {MEMO},
}
_ROUTE = re.compile(
    r"^EntityDefinitions(?:\((?P<key>[^)]*)\))?"
    r"(?:/(?P<part>Attributes|ManyToOneRelationships|OneToManyRelationships)"
    r"(?:\((?P<attr>[^)]*)\))?(?:/(?P<cast>Microsoft\.Dynamics\.CRM\.[A-Za-z]+))?)?$"
)


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def _label(text: str) -> dict[str, Any]:
    localized = {"Label": text, "LanguageCode": 1033}
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": localized}


def _schema_name(name: str) -> str:
    prefix, _, rest = name.partition("_")
    if rest and prefix == "work365":
        return "work365_" + "".join(part.capitalize() for part in rest.split("_"))
    return "".join(part.capitalize() for part in name.split("_"))


def entity_metadata(entity: Entity) -> dict[str, Any]:
    return {
        "MetadataId": _id(entity.logical_name),
        "LogicalName": entity.logical_name,
        "SchemaName": _schema_name(entity.logical_name),
        "EntitySetName": entity.entity_set,
        "LogicalCollectionName": entity.entity_set,
        "PrimaryIdAttribute": entity.primary_id,
        "PrimaryNameAttribute": entity.primary_name,
        "ObjectTypeCode": entity.object_type_code,
        "IsCustomEntity": entity.logical_name.startswith("work365_"),
        "DisplayName": _label(entity.display_name or entity.logical_name),
    }


def attribute_metadata(entity: Entity, attr: Attribute) -> dict[str, Any]:
    kind = _TYPE_NAMES[attr.type]
    data: dict[str, Any] = {
        "@odata.type": f"#Microsoft.Dynamics.CRM.{kind}AttributeMetadata",
        "MetadataId": _id(entity.logical_name, attr.logical_name),
        "LogicalName": attr.logical_name,
        "SchemaName": attr.schema_name or _schema_name(attr.logical_name),
        "EntityLogicalName": entity.logical_name,
        "AttributeType": kind,
        "AttributeTypeName": {"Value": attr.type},
        "IsCustomAttribute": attr.logical_name.startswith("work365_"),
        "IsPrimaryId": attr.logical_name == entity.primary_id,
        "IsPrimaryName": attr.logical_name == entity.primary_name,
        "IsValidForCreate": not attr.read_only,
        "IsValidForUpdate": not attr.read_only and attr.logical_name != entity.primary_id,
        "IsValidForRead": True,
        "DisplayName": _label(attr.label or attr.logical_name),
    }
    if attr.max_length is not None:
        data["MaxLength"] = attr.max_length
    if attr.type == LOOKUP:
        data["Targets"] = [attr.target]
    if attr.type == "DateTimeType":
        data["DateTimeBehavior"] = {"Value": "DateOnly" if attr.date_only else "UserLocal"}
        data["Format"] = "DateOnly" if attr.date_only else "DateAndTime"
    if attr.min_value is not None:
        data["MinValue"] = attr.min_value
        data["MaxValue"] = attr.max_value
    return data


def option_set(entity: Entity, attr: Attribute) -> dict[str, Any]:
    options = []
    for option in attr.options:
        item: dict[str, Any] = {"Value": option.value, "Label": _label(option.label)}
        if attr.type == STATUS:
            item["@odata.type"] = "#Microsoft.Dynamics.CRM.StatusOptionMetadata"
            item["State"] = option.state
        elif attr.type == STATE:
            item["@odata.type"] = "#Microsoft.Dynamics.CRM.StateOptionMetadata"
            item["DefaultStatus"] = option.default_status
            item["InvariantName"] = option.label
        options.append(item)
    return {
        "MetadataId": _id(entity.logical_name, attr.logical_name, "optionset"),
        "Name": attr.option_set_name or f"{entity.logical_name}_{attr.logical_name}",
        "OptionSetType": _TYPE_NAMES[attr.type],
        "IsGlobal": False,
        "Options": options,
    }


def _relationship(entity: Entity, attr: Attribute) -> dict[str, Any]:
    target = entity.catalog.by_logical[attr.target or ""]
    collection = next(
        (c.name for c in target.collections if c.entity == entity.logical_name and c.lookup == attr.store),
        f"{entity.logical_name}_{attr.logical_name}",
    )
    schema = f"{target.logical_name}_{entity.logical_name}_{attr.logical_name}"
    return {
        "MetadataId": _id("rel", schema),
        "SchemaName": schema,
        "ReferencedEntity": target.logical_name,
        "ReferencedAttribute": target.primary_id,
        "ReferencingEntity": entity.logical_name,
        "ReferencingAttribute": attr.logical_name,
        "ReferencedEntityNavigationPropertyName": collection,
        "ReferencingEntityNavigationPropertyName": attr.nav,
        "RelationshipType": "OneToManyRelationship",
    }


def _many_to_one(entity: Entity) -> list[dict[str, Any]]:
    return [_relationship(entity, a) for a in entity.attributes if a.type == LOOKUP]


def _one_to_many(entity: Entity) -> list[dict[str, Any]]:
    return [
        _relationship(other, a)
        for other in entity.catalog.entities
        for a in other.attributes
        if a.type == LOOKUP and a.target == entity.logical_name
    ]


def _find_entity(catalog: Catalog, key: str) -> Entity:
    key = key.strip()
    match = re.fullmatch(r"LogicalName\s*=\s*'([^']*)'", key)
    if match:
        entity = catalog.by_logical.get(match.group(1))
        if entity is None:
            raise DataverseError(
                404, "0x80040217", f"Could not find entity with name '{match.group(1)}'."
            )
        return entity
    for entity in catalog.entities:
        if _id(entity.logical_name) == key.lower():
            return entity
    raise DataverseError(404, "0x80040217", f"Could not find entity with key '{key}'.")


def _find_attribute(entity: Entity, key: str) -> Attribute:
    match = re.fullmatch(r"\s*LogicalName\s*=\s*'([^']*)'\s*", key)
    name = match.group(1) if match else None
    for attr in entity.attributes:
        if attr.logical_name == name or _id(entity.logical_name, attr.logical_name) == key.strip().lower():
            return attr
    raise DataverseError(404, "0x80040217", f"Could not find attribute '{key}' on entity '{entity.logical_name}'.")


BASE_ATTRIBUTE = frozenset({
    "MetadataId", "LogicalName", "SchemaName", "EntityLogicalName", "AttributeType", "AttributeTypeName",
    "IsCustomAttribute", "IsPrimaryId", "IsPrimaryName", "IsValidForCreate", "IsValidForUpdate", "IsValidForRead",
    "DisplayName"})
CAST_PROPERTIES = {
    "Microsoft.Dynamics.CRM.StringAttributeMetadata": {"MaxLength"},
    "Microsoft.Dynamics.CRM.MemoAttributeMetadata": {"MaxLength"},
    "Microsoft.Dynamics.CRM.LookupAttributeMetadata": {"Targets"},
}


def _select(items: list[dict[str, Any]], select: str | None, type_name: str,
            allowed: frozenset[str] | set[str] | None = None) -> list[dict[str, Any]]:
    if not select:
        return items
    names = split_top_level(select)
    if allowed is not None:
        for name in names:
            if name not in allowed:
                raise bad_request(f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{type_name}'.")
        return [{k: v for k, v in item.items() if k in names or k in ("@odata.type", "MetadataId")} for item in items]
    known = set().union(*(item.keys() for item in items)) if items else set()
    result = []
    for item in items:
        chosen: dict[str, Any] = {}
        if "@odata.type" in item:
            chosen["@odata.type"] = item["@odata.type"]
        chosen["MetadataId"] = item.get("MetadataId")
        for name in names:
            if name not in known and name not in _ALWAYS_KNOWN.get(type_name, ()):
                raise bad_request(f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{type_name}'.")
            if name in item:
                chosen[name] = item[name]
        result.append(chosen)
    return result


_ALWAYS_KNOWN: dict[str, tuple[str, ...]] = {}


def _filter(items: list[dict[str, Any]], text: str | None, type_name: str) -> list[dict[str, Any]]:
    """A small evaluator for metadata filters: ``Prop eq 'x'`` joined by ``and``/``or``."""
    if not text:
        return items
    alternatives = [part for part in re.split(r"\s+or\s+", text.strip())]
    clauses = []
    for alternative in alternatives:
        terms = []
        for term in re.split(r"\s+and\s+", alternative.strip().strip("()")):
            match = re.fullmatch(r"\(?\s*([A-Za-z]+)\s+(eq|ne)\s+('(?:[^']|'')*'|true|false|\d+)\s*\)?", term.strip())
            if not match:
                raise bad_request(f"The sandbox cannot evaluate the metadata filter '{text}'.")
            raw = match.group(3)
            value: Any
            if raw.startswith("'"):
                value = raw[1:-1].replace("''", "'")
            elif raw in ("true", "false"):
                value = raw == "true"
            else:
                value = int(raw)
            terms.append((match.group(1), match.group(2), value))
        clauses.append(terms)
    known = set().union(*(item.keys() for item in items)) if items else set()
    for terms in clauses:
        for prop, _, _ in terms:
            if prop not in known:
                raise bad_request(f"Could not find a property named '{prop}' on type 'Microsoft.Dynamics.CRM.{type_name}'.")

    def keep(item: dict[str, Any]) -> bool:
        for terms in clauses:
            if all((item.get(p) == v) == (op == "eq") for p, op, v in terms):
                return True
        return False

    return [item for item in items if keep(item)]


def _expand_option_set(entity: Entity, attrs: list[Attribute], rows: list[dict[str, Any]], expand: str | None) -> None:
    if not expand:
        return
    match = re.fullmatch(r"(OptionSet|GlobalOptionSet)(?:\((.*)\))?", expand.strip())
    if not match:
        raise bad_request(f"Could not find a property named '{expand}' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'.")
    nested_select = None
    if match.group(2):
        key, _, value = match.group(2).partition("=")
        if key.strip() != "$select":
            raise bad_request(f"The query option '{key}' is not supported inside $expand of OptionSet.")
        nested_select = value
    for attr, row in zip(attrs, rows, strict=True):
        if attr.is_option:
            data = option_set(entity, attr)
            row[match.group(1)] = _select([data], nested_select, "OptionSetMetadata")[0] if nested_select else data
        else:
            row[match.group(1)] = None


def answer(catalog: Catalog, relative: str, pairs: list[tuple[str, str]], base: str) -> dict[str, Any]:
    """The JSON payload for a GET under ``EntityDefinitions``."""
    options: dict[str, str] = {}
    for name, value in pairs:
        if name not in ("$select", "$filter", "$expand"):
            raise bad_request(f"The query parameter {name} is not supported on metadata.")
        options[name] = value
    match = _ROUTE.match(relative)
    if not match:
        raise DataverseError(404, _NOT_FOUND, f"Resource not found for the segment '{relative}'.")
    key, part, attr_key, cast = match.group("key"), match.group("part"), match.group("attr"), match.group("cast")
    context = f"{base}$metadata#EntityDefinitions"
    if key is None:
        if part:
            raise DataverseError(404, _NOT_FOUND, f"Resource not found for the segment '{part}'.")
        items = [entity_metadata(e) for e in catalog.entities]
        items = _filter(items, options.get("$filter"), "EntityMetadata")
        return {"@odata.context": context, "value": _select(items, options.get("$select"), "EntityMetadata")}
    entity = _find_entity(catalog, key)
    if part is None:
        data = entity_metadata(entity)
        expand = options.get("$expand")
        if expand:
            for item in split_top_level(expand):
                inner = re.fullmatch(r"(Attributes|ManyToOneRelationships|OneToManyRelationships)(?:\(\$select=([^)]*)\))?", item)
                if not inner:
                    raise bad_request(f"Could not find a property named '{item}' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.")
                rows = _part(entity, inner.group(1))
                kind = "AttributeMetadata" if inner.group(1) == "Attributes" else "RelationshipMetadataBase"
                data[inner.group(1)] = _select(rows, inner.group(2), kind)
        selected = _select([data], options.get("$select"), "EntityMetadata")[0]
        for extra in ("Attributes", "ManyToOneRelationships", "OneToManyRelationships"):
            if extra in data:
                selected[extra] = data[extra]
        return {"@odata.context": f"{context}/$entity", **selected}
    if part != "Attributes" and (attr_key is not None or cast is not None):
        raise DataverseError(404, _NOT_FOUND, f"Resource not found for the segment '{part}'.")
    if part == "Attributes":
        attrs = list(entity.attributes)
        if attr_key is not None:
            attrs = [_find_attribute(entity, attr_key)]
        if cast is not None:
            if cast not in _CAST:
                raise DataverseError(404, _NOT_FOUND, f"Resource not found for the segment '{cast}'.")
            attrs = [a for a in attrs if a.type in _CAST[cast]]
            if attr_key is not None and not attrs:
                raise DataverseError(404, _NOT_FOUND, f"The attribute is not a {cast.rsplit('.', 1)[1]}.")
        elif "$expand" in options:
            raise bad_request("Could not find a property named 'OptionSet' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'; cast to an option-set attribute type first.")
        rows = [attribute_metadata(entity, a) for a in attrs]
        rows = _filter(rows, options.get("$filter"), "AttributeMetadata")
        kept = {r["LogicalName"] for r in rows}
        attrs = [a for a in attrs if a.logical_name in kept]
        allowed = BASE_ATTRIBUTE | CAST_PROPERTIES.get(cast or "", set())
        selected = _select(rows, options.get("$select"), cast.rsplit(".", 1)[1] if cast else "AttributeMetadata",
                           allowed)
        _expand_option_set(entity, attrs, selected, options.get("$expand"))
        if attr_key is not None:
            return {"@odata.context": f"{context}('{entity.logical_name}')/Attributes/$entity", **selected[0]}
        return {"@odata.context": f"{context}('{entity.logical_name}')/Attributes", "value": selected}
    rows = _part(entity, part)
    rows = _filter(rows, options.get("$filter"), "RelationshipMetadataBase")
    return {
        "@odata.context": f"{context}('{entity.logical_name}')/{part}",
        "value": _select(rows, options.get("$select"), "RelationshipMetadataBase"),
    }


def _part(entity: Entity, part: str) -> list[dict[str, Any]]:
    if part == "Attributes":
        return [attribute_metadata(entity, a) for a in entity.attributes]
    if part == "ManyToOneRelationships":
        return _many_to_one(entity)
    return _one_to_many(entity)

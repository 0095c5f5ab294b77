"""StreamOne Ion v3 resources as they arrive on the wire.

Ion's payloads are loosely typed: quantities are strings, statuses are lowercase in real data
though the OpenAPI says uppercase, and fields come and go. These models ignore unknown fields,
treat nearly everything as optional, and expose the few derived values the app needs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AliasGenerator, BaseModel, BeforeValidator, ConfigDict, field_validator
from pydantic.alias_generators import to_camel


class _IonModel(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
    )


def _parse_count(value: Any) -> int | None:
    """Ion sends licence counts as strings ("10"); accept ints too, and "" as absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expected a whole number, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
    raise ValueError(f"expected a whole number, got {type(value).__name__}")


def _id_text(value: Any) -> Any:
    """Ion ids are strings, though some payloads send them as numbers."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


IdText = Annotated[str, BeforeValidator(_id_text)]


class Address(_IonModel):
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None


class Customer(_IonModel):
    """A reseller's customer. It has no id field: the id is the last segment of ``name``."""

    name: str
    customer_organization: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    customer_address: Address | None = None
    customer_status: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None

    @field_validator("name")
    @classmethod
    def _name_has_id(cls, value: str) -> str:
        if not value.rsplit("/", 1)[-1].strip():
            raise ValueError(f"customer name {value!r} does not end with a customer id")
        return value

    @property
    def id(self) -> str:
        """``accounts/123/customers/306870`` → ``306870``."""
        return self.name.rsplit("/", 1)[-1].strip()

    @property
    def display_name(self) -> str:
        return self.customer_organization or self.customer_name or self.id

    @property
    def is_active(self) -> bool:
        return (self.customer_status or "").upper() == "ACTIVE"


@dataclass(frozen=True, slots=True)
class CustomerBrief:
    """What a list of 100,000 customers keeps of each: a tenth of a :class:`Customer`'s memory."""

    id: str
    customer_organization: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    customer_status: str | None = None

    @classmethod
    def of(cls, customer: Customer) -> CustomerBrief:
        status = customer.customer_status  # a handful of values for 100,000 customers: one string each
        return cls(customer.id, customer.customer_organization, customer.customer_name, customer.customer_email,
                   sys.intern(status) if status else status)

    @property
    def display_name(self) -> str:
        return self.customer_organization or self.customer_name or self.id

    @property
    def is_active(self) -> bool:
        return (self.customer_status or "").upper() == "ACTIVE"


class CustomersPage(_IonModel):
    customers: list[Customer] = []
    next_page_token: str | None = None

    @property
    def is_last(self) -> bool:
        return not self.next_page_token


class CloudProfile(_IonModel):
    provider_id: IdText | None = None
    display_name: str | None = None
    short_name: str | None = None
    enabled: bool | None = None
    customer_tenant_id: str | None = None
    customer_domain: str | None = None


class CustomerCloudProfiles(_IonModel):
    customer_id: IdText | None = None
    customer_organization: str | None = None
    customer_cloud_profiles: list[CloudProfile] = []

    def profile(self, short_name: str) -> CloudProfile | None:
        """The profile whose short name is ``short_name`` (case-insensitive), if any."""
        wanted = short_name.casefold()
        for profile in self.customer_cloud_profiles:
            if (profile.short_name or "").casefold() == wanted:
                return profile
        return None


class ProductInfo(_IonModel):
    product_id: str | None = None
    product_display_name: str | None = None
    sku_id: str | None = None
    sku_display_name: str | None = None
    plan_id: str | None = None
    plan_display_name: str | None = None


class IonSubscription(_IonModel):
    id: IdText
    customer_id: IdText | None = None
    subscription_id: str | None = None
    subscription_name: str | None = None
    subscription_total_licenses: int | None = None
    subscription_status: str | None = None
    ccp_sku_id: str | None = None
    ccp_product_info: ProductInfo | None = None
    subscription_offer_id: str | None = None
    mfg_part_number: str | None = None
    subscription_billing_cycle: str | None = None
    subscription_billing_term: str | None = None
    subscription_start_date: datetime | None = None
    subscription_end_date: datetime | None = None
    renewal_date: datetime | None = None
    auto_renew: bool | None = None
    price: Decimal | None = None
    cost: Decimal | None = None
    currency: str | None = None

    @field_validator("subscription_total_licenses", mode="before")
    @classmethod
    def _licences(cls, value: Any) -> int | None:
        return _parse_count(value)

    @property
    def quantity(self) -> int:
        return self.subscription_total_licenses or 0

    @property
    def is_active(self) -> bool:
        """Real data says ``active``, the OpenAPI ``ACTIVE``: compare case-insensitively."""
        return (self.subscription_status or "").casefold() == "active"

    @property
    def sku_display_name(self) -> str | None:
        return self.ccp_product_info.sku_display_name if self.ccp_product_info else None


class PaginationResponse(_IonModel):
    total_size: int | None = None

    @field_validator("total_size", mode="before")
    @classmethod
    def _total(cls, value: Any) -> int | None:
        return _parse_count(value)


class SubscriptionsPage(_IonModel):
    items: list[IonSubscription] = []
    pagination_response: PaginationResponse | None = None

    @property
    def total_size(self) -> int | None:
        return self.pagination_response.total_size if self.pagination_response else None


class IonError(_IonModel):
    """Ion's error envelope: ``{"error": "NOT_FOUND", "message", "code": 404, "details"}``."""

    error: str | None = None
    message: str | None = None
    code: int | None = None
    details: list[Any] = []


_TERM_UNITS = {"D": ("day", "days"), "W": ("week", "weeks"), "M": ("month", "months"), "Y": ("year", "years")}


def term_words(term: str | None) -> str:
    """An ISO 8601 billing term in words: ``P1M`` → ``1 month``, ``P3Y`` → ``3 years``.

    Anything else is returned as it is (an unknown term is shown, not hidden).
    """
    text = (term or "").strip().upper()
    if len(text) >= 3 and text[0] == "P" and text[1:-1].isdigit() and text[-1] in _TERM_UNITS:
        count = int(text[1:-1])
        one, many = _TERM_UNITS[text[-1]]
        return f"{count} {one if count == 1 else many}"
    return term or ""


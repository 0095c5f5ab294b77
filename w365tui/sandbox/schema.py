"""The tables the sandbox's Dataverse publishes, with the metadata a real org would show.

Column names, navigation property names and option-set integers here are the sandbox's own:
real Work 365 environments differ, which is why the app discovers them from
``EntityDefinitions`` rather than assuming these. Navigation property names deliberately differ
in case from their columns, as custom lookups do in real orgs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

# Attribute types, named as Dataverse's AttributeTypeName values.
UNIQUEIDENTIFIER = "UniqueidentifierType"
STRING = "StringType"
MEMO = "MemoType"
INTEGER = "IntegerType"
BIGINT = "BigIntType"
DECIMAL = "DecimalType"
MONEY = "MoneyType"
DATETIME = "DateTimeType"
BOOLEAN = "BooleanType"
PICKLIST = "PicklistType"
STATE = "StateType"
STATUS = "StatusType"
LOOKUP = "LookupType"

_EDM = {
    UNIQUEIDENTIFIER: "Edm.Guid",
    STRING: "Edm.String",
    MEMO: "Edm.String",
    INTEGER: "Edm.Int32",
    BIGINT: "Edm.Int64",
    DECIMAL: "Edm.Decimal",
    MONEY: "Edm.Decimal",
    DATETIME: "Edm.DateTimeOffset",
    BOOLEAN: "Edm.Boolean",
    PICKLIST: "Edm.Int32",
    STATE: "Edm.Int32",
    STATUS: "Edm.Int32",
    LOOKUP: "Edm.Guid",
}


@dataclass(frozen=True)
class Option:
    value: int
    label: str
    state: int | None = None  # for status reasons: the state they belong to
    default_status: int | None = None  # for states: their default status reason


@dataclass(frozen=True)
class Attribute:
    logical_name: str
    type: str
    schema_name: str = ""
    label: str = ""
    max_length: int | None = None
    options: tuple[Option, ...] = ()
    option_set_name: str | None = None
    target: str | None = None  # lookups: the referenced table
    nav: str | None = None  # lookups: navigation property name (case-sensitive)
    date_only: bool = False
    read_only: bool = False
    min_value: int | None = None
    max_value: int | None = None
    column: str = ""  # where the sandbox stores it (its compact name), when the Web API names it otherwise
    published_only: bool = False  # only in the published naming (the compact one predates it)

    @property
    def store(self) -> str:
        """The storage column: the compact name, whatever the naming shows."""
        return self.column or self.logical_name

    @property
    def edm(self) -> str:
        if self.type == DATETIME and self.date_only:
            return "Edm.Date"
        return _EDM[self.type]

    @property
    def is_lookup(self) -> bool:
        return self.type == LOOKUP

    @property
    def is_string(self) -> bool:
        return self.type in (STRING, MEMO)

    @property
    def is_option(self) -> bool:
        return self.type in (PICKLIST, STATE, STATUS)

    @property
    def web_name(self) -> str:
        """The name the Web API uses: ``_x_value`` for lookups, the logical name otherwise."""
        return f"_{self.logical_name}_value" if self.is_lookup else self.logical_name

    def option(self, value: int) -> Option | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True)
class Collection:
    """A one-to-many navigation property: rows of ``entity`` whose ``lookup`` points here
    (``lookup`` is the storage column of the child's lookup)."""

    name: str
    entity: str
    lookup: str
    schema_name: str


@dataclass(frozen=True)
class Entity:
    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str
    attributes: tuple[Attribute, ...]
    display_name: str = ""
    object_type_code: int = 10000
    collections: tuple[Collection, ...] = field(default=())
    naming: str = "compact"
    published_only: bool = False

    @cached_property
    def by_name(self) -> dict[str, Attribute]:
        return {a.logical_name: a for a in self.attributes}

    @cached_property
    def by_store(self) -> dict[str, Attribute]:
        return {a.store: a for a in self.attributes}

    @property
    def primary_name_store(self) -> str:
        return self.by_name[self.primary_name].store if self.primary_name in self.by_name else self.primary_name

    @property
    def catalog(self) -> Catalog:
        return catalog(self.naming)

    @cached_property
    def by_web_name(self) -> dict[str, Attribute]:
        return {a.web_name: a for a in self.attributes}

    @cached_property
    def by_nav(self) -> dict[str, Attribute]:
        return {a.nav: a for a in self.attributes if a.nav}

    @cached_property
    def collections_by_name(self) -> dict[str, Collection]:
        return {c.name: c for c in self.collections}

    @property
    def has_state(self) -> bool:
        return "statecode" in self.by_name

    def state_options(self) -> tuple[Option, ...]:
        return self.by_name["statecode"].options

    def status_options(self) -> tuple[Option, ...]:
        return self.by_name["statuscode"].options


def _guid(name: str, **kw) -> Attribute:
    return Attribute(name, UNIQUEIDENTIFIER, read_only=False, **kw)


def _str(name: str, length: int = 100, **kw) -> Attribute:
    return Attribute(name, STRING, max_length=length, **kw)


def _lookup(name: str, target: str, nav: str, **kw) -> Attribute:
    return Attribute(name, LOOKUP, target=target, nav=nav, **kw)


def _pick(name: str, set_name: str, options: list[tuple[int, str]], **kw) -> Attribute:
    return Attribute(
        name,
        PICKLIST,
        option_set_name=set_name,
        options=tuple(Option(v, label) for v, label in options),
        **kw,
    )


def _states(
    entity: str, states: list[tuple[int, str, int]], statuses: list[tuple[int, str, int]]
) -> tuple[Attribute, Attribute]:
    return (
        Attribute(
            "statecode",
            STATE,
            option_set_name=f"{entity}_statecode",
            options=tuple(Option(v, label, default_status=d) for v, label, d in states),
        ),
        Attribute(
            "statuscode",
            STATUS,
            option_set_name=f"{entity}_statuscode",
            options=tuple(Option(v, label, state=s) for v, label, s in statuses),
        ),
    )


def _system() -> tuple[Attribute, ...]:
    return (
        Attribute("createdon", DATETIME, read_only=True),
        Attribute("modifiedon", DATETIME, read_only=True),
        Attribute("versionnumber", BIGINT, read_only=True),
    )


_ACTIVE_INACTIVE = ([(0, "Active", 1), (1, "Inactive", 2)], [(1, "Active", 0), (2, "Inactive", 1)])

# Option-set integers chosen so that nothing can get away with assuming them.
PROVIDER_TYPES = [
    (412410000, "Automatic"),
    (412410001, "Manual"),
    (412410002, "Do Nothing"),
    (412410003, "Linked Subscription"),
    (412410004, "Rest"),
]
LCL_EVENTS = [
    (635170000, "Create"),
    (635170001, "Update"),
    (635170002, "Activate"),
    (635170003, "Deactivate"),
    (635170004, "Pause"),
    (635170005, "Resume"),
    (635170006, "Audit"),
]
PROVISIONING_STATUSES = [
    (757320000, "Awaiting Provisioning"),
    (757320001, "Provisioned"),
    (757320002, "Failed Provisioning"),
    (757320003, "Not Applicable"),
]
LCL_STATUS_ACTIVE = 1
LCL_STATUS_ARCHIVED = 921950001
SUBSCRIPTION_STATUS_ACTIVE = 1
SUBSCRIPTION_STATUS_SUSPENDED = 2
BILLING_FREQUENCIES = [
    (283550000, "Monthly"),
    (283550001, "Quarterly"),
    (283550002, "Annual"),
    (283550003, "Triennial"),
]
BILLING_POLICIES = [(283560000, "Advance"), (283560001, "Arrears")]
BILLABLE_STATUSES = [(283570000, "Billable"), (283570001, "Non-Billable")]
SYNC_STATUSES = [(283580000, "Enabled"), (283580001, "Disabled")]
BILL_AT = [(283590000, "Start of Period"), (283590001, "End of Period")]


def _entities() -> tuple[Entity, ...]:
    ai_states, ai_statuses = _ACTIVE_INACTIVE
    return (
        Entity(
            "account",
            "accounts",
            "accountid",
            "name",
            (
                _guid("accountid"),
                _str("name", 160),
                _str("accountnumber", 20),
                _str("websiteurl", 200),
                _str("emailaddress1", 100),
                _str("telephone1", 50),
                _str("address1_city", 80),
                _str("address1_country", 80),
                _lookup("primarycontactid", "contact", "primarycontactid"),
                *_states("account", ai_states, ai_statuses),
                *_system(),
            ),
            display_name="Account",
            object_type_code=1,
            collections=(
                Collection("Account_Tasks", "task", "regardingobjectid", "Account_Tasks"),
                Collection("contact_customer_accounts", "contact", "parentcustomerid", "contact_customer_accounts"),
                Collection("work365_account_provideraccounts", "work365_provideraccount", "work365_account", "work365_Account_ProviderAccounts"),
                Collection("work365_account_billingcontracts", "work365_billingcontract", "work365_customer", "work365_Account_BillingContracts"),
                Collection("work365_account_subscriptions", "work365_subscription", "work365_subscription_customer", "work365_Account_Subscriptions"),
            ),
        ),
        Entity(
            "contact",
            "contacts",
            "contactid",
            "fullname",
            (
                _guid("contactid"),
                _str("fullname", 160),
                _str("firstname", 50),
                _str("lastname", 50),
                _str("emailaddress1", 100),
                _lookup("parentcustomerid", "account", "parentcustomerid_account"),
                *_states("contact", ai_states, ai_statuses),
                *_system(),
            ),
            display_name="Contact",
            object_type_code=2,
        ),
        Entity(
            "systemuser",
            "systemusers",
            "systemuserid",
            "fullname",
            (
                _guid("systemuserid"),
                _str("fullname", 200),
                _str("domainname", 1024),
                _str("internalemailaddress", 100),
                *_system(),
            ),
            display_name="User",
            object_type_code=8,
        ),
        Entity(
            "task",
            "tasks",
            "activityid",
            "subject",
            (
                _guid("activityid"),
                _str("subject", 200),
                Attribute("description", MEMO, max_length=2000),
                _lookup("regardingobjectid", "account", "regardingobjectid_account_task"),
                *_states("task", [(0, "Open", 3), (1, "Completed", 5), (2, "Canceled", 6)],
                         [(2, "Not Started", 0), (3, "In Progress", 0), (4, "Waiting on someone else", 0),
                          (7, "Deferred", 0), (5, "Completed", 1), (6, "Canceled", 2)]),
                *_system(),
            ),
            display_name="Task",
            object_type_code=4212,
        ),
        Entity(
            "transactioncurrency",
            "transactioncurrencies",
            "transactioncurrencyid",
            "currencyname",
            (
                _guid("transactioncurrencyid"),
                _str("currencyname", 100),
                _str("isocurrencycode", 5),
                _str("currencysymbol", 10),
                *_states("transactioncurrency", ai_states, ai_statuses),
                *_system(),
            ),
            display_name="Currency",
            object_type_code=9105,
        ),
        Entity(
            "pricelevel",
            "pricelevels",
            "pricelevelid",
            "name",
            (
                _guid("pricelevelid"),
                _str("name", 100),
                _lookup("transactioncurrencyid", "transactioncurrency", "transactioncurrencyid"),
                *_states("pricelevel", ai_states, ai_statuses),
                *_system(),
            ),
            display_name="Price List",
            object_type_code=1022,
        ),
        Entity(
            "product",
            "products",
            "productid",
            "name",
            (
                _guid("productid"),
                _str("name", 100),
                _str("productnumber", 100),
                _str("description", 500),
                *_states("product", ai_states, ai_statuses),
                *_system(),
            ),
            display_name="Product",
            object_type_code=1024,
        ),
        Entity(
            "work365_provider",
            "work365_providers",
            "work365_providerid",
            "work365_name",
            (
                _guid("work365_providerid"),
                _str("work365_name", 100),
                _str("work365_internalname", 200),
                _pick("work365_providertype", "work365_providertype", PROVIDER_TYPES),
                *_states("work365_provider", ai_states, ai_statuses),
                *_system(),
            ),
            display_name="Provider",
            object_type_code=10410,
            collections=(
                Collection("work365_provider_provideraccounts", "work365_provideraccount", "work365_provider", "work365_Provider_ProviderAccounts"),
            ),
        ),
        Entity(
            "work365_provideraccount",
            "work365_provideraccounts",
            "work365_provideraccountid",
            "work365_provideraccount_name",
            (
                _guid("work365_provideraccountid"),
                _str("work365_provideraccount_name", 200),
                _str("work365_providerspecificaccountid", 100),
                _lookup("work365_provider", "work365_provider", "work365_Provider"),
                _lookup("work365_account", "account", "work365_Account"),
                _pick("work365_syncstatus", "work365_syncstatus", SYNC_STATUSES),
                *_states("work365_provideraccount", ai_states, ai_statuses),
                *_system(),
            ),
            display_name="Provider Account",
            object_type_code=10411,
        ),
        Entity(
            "work365_billingcontract",
            "work365_billingcontracts",
            "work365_billingcontractid",
            "work365_name",
            (
                _guid("work365_billingcontractid"),
                _str("work365_name", 200),
                _lookup("work365_customer", "account", "work365_Customer"),
                Attribute("work365_startdate", DATETIME, date_only=True),
                Attribute("work365_enddate", DATETIME, date_only=True),
                _pick("work365_billingfrequency", "work365_billingfrequency", BILLING_FREQUENCIES),
                _pick("work365_billingpolicy", "work365_billingpolicy", BILLING_POLICIES),
                _lookup("transactioncurrencyid", "transactioncurrency", "transactioncurrencyid"),
                _lookup("work365_pricelist", "pricelevel", "work365_PriceList"),
                Attribute("work365_isdefault", BOOLEAN),
                *_states("work365_billingcontract", ai_states, ai_statuses),
                *_system(),
            ),
            display_name="Billing Contract",
            object_type_code=10412,
            collections=(
                Collection("work365_billingcontract_subscriptions", "work365_subscription", "work365_billingcontract", "work365_BillingContract_Subscriptions"),
            ),
        ),
        Entity(
            "work365_subscription",
            "work365_subscriptions",
            "work365_subscriptionid",
            "work365_subscriptionname",
            (
                _guid("work365_subscriptionid"),
                _str("work365_subscriptionname", 200),
                _str("work365_friendlyname", 200),
                _lookup("work365_subscription_customer", "account", "work365_Subscription_Customer"),
                _lookup("work365_billingcontract", "work365_billingcontract", "work365_BillingContract"),
                _lookup("work365_provider", "work365_provider", "work365_Provider"),
                _lookup("work365_provideraccount", "work365_provideraccount", "work365_ProviderAccount"),
                _lookup("work365_product", "product", "work365_Product"),
                _lookup("work365_parentsubscription", "work365_subscription", "work365_ParentSubscription"),
                _str("work365_providerpartnumber", 100),
                _str("work365_providersubscriptionid", 100),
                Attribute("work365_quantity", INTEGER, min_value=-2147483648, max_value=2147483647),
                Attribute("work365_effectivestartdate", DATETIME, date_only=True),
                _str("work365_salesunit", 50),
                Attribute("work365_sellingprice", MONEY),
                Attribute("work365_costprice", MONEY),
                _lookup("transactioncurrencyid", "transactioncurrency", "transactioncurrencyid"),
                _pick("work365_billablestatus", "work365_billablestatus", BILLABLE_STATUSES),
                _lookup("work365_subscription_linkedsubscription", "work365_subscription",
                        "work365_Subscription_LinkedSubscription", published_only=True),
                _pick("work365_subscription_billat", "work365_subscription_billat", BILL_AT, published_only=True),
                *_states(
                    "work365_subscription",
                    [(0, "Active", SUBSCRIPTION_STATUS_ACTIVE), (1, "Inactive", SUBSCRIPTION_STATUS_SUSPENDED)],
                    [(SUBSCRIPTION_STATUS_ACTIVE, "Active", 0), (SUBSCRIPTION_STATUS_SUSPENDED, "Suspended", 1)],
                ),
                *_system(),
            ),
            display_name="Subscription",
            object_type_code=10413,
            collections=(
                Collection("work365_subscription_licensechangelogs", "work365_licensechangelog", "work365_subscription", "work365_Subscription_LicenseChangeLogs"),
            ),
        ),
        Entity(
            "work365_licensechangelog",
            "work365_licensechangelogs",
            "work365_licensechangelogid",
            "work365_name",
            (
                _guid("work365_licensechangelogid"),
                _str("work365_name", 200),
                _lookup("work365_subscription", "work365_subscription", "work365_Subscription"),
                _lookup("work365_account", "account", "work365_Account"),
                _pick("work365_event", "work365_lclevent", LCL_EVENTS),
                Attribute("work365_quantity", INTEGER, min_value=-2147483648, max_value=2147483647),
                Attribute("work365_effectivedate", DATETIME, date_only=True),
                _pick("work365_provisioningstatus", "work365_provisioningstatus", PROVISIONING_STATUSES),
                _lookup("work365_invoice", "invoice", "work365_Invoice"),
                Attribute("work365_sellingprice", MONEY),
                Attribute("work365_costprice", MONEY),
                _lookup("transactioncurrencyid", "transactioncurrency", "transactioncurrencyid"),
                *_states(
                    "work365_licensechangelog",
                    [(0, "Active", LCL_STATUS_ACTIVE), (1, "Inactive", LCL_STATUS_ARCHIVED)],
                    [(LCL_STATUS_ACTIVE, "Active", 0), (LCL_STATUS_ARCHIVED, "Archived", 1)],
                ),
                *_system(),
            ),
            display_name="License Change Log",
            object_type_code=10414,
        ),
        Entity(
            "work365_slcl",
            "work365_slcls",
            "work365_slclid",
            "work365_slcl_name",
            (
                _guid("work365_slclid"),
                _str("work365_slcl_name", 200),
                _lookup("work365_slcl_customer", "account", "work365_Slcl_Customer"),
                _lookup("work365_slcl_subscription", "work365_subscription", "work365_Slcl_Subscription"),
                _pick("work365_slcl_subscriptionevent", "work365_slcl_subscriptionevent", LCL_EVENTS),
                Attribute("work365_slcl_effectivedate", DATETIME, date_only=True),
                Attribute("work365_slcl_quantity", INTEGER, min_value=-2147483648, max_value=2147483647),
                Attribute("work365_slcl_sellingpriceperunit", MONEY),
                Attribute("work365_slcl_costpriceperunit", MONEY),
                *_states("work365_slcl", ai_states, ai_statuses),
                *_system(),
            ),
            display_name="Scheduled License Change Log",
            object_type_code=10415,
            published_only=True,
        ),
        Entity(
            "work365_invoiceproduct",
            "work365_invoiceproducts",
            "work365_invoiceproductid",
            "work365_invoiceproduct_name",
            (
                _guid("work365_invoiceproductid"),
                _str("work365_invoiceproduct_name", 200),
                _lookup("work365_invoiceproduct_invoice", "invoice", "work365_InvoiceProduct_Invoice"),
                _lookup("work365_invoiceproduct_subscription", "work365_subscription",
                        "work365_InvoiceProduct_Subscription"),
                Attribute("work365_invoiceproduct_quantity", INTEGER),
                Attribute("work365_invoiceproduct_amount", MONEY),
                *_states("work365_invoiceproduct", ai_states, ai_statuses),
                *_system(),
            ),
            display_name="Invoice Product",
            object_type_code=10416,
            published_only=True,
        ),
        Entity(
            "invoice",
            "invoices",
            "invoiceid",
            "name",
            (
                _guid("invoiceid"),
                _str("name", 300),
                _str("invoicenumber", 100),
                _lookup("customerid", "account", "customerid_account"),
                _lookup("work365_invoice_billingcontract", "work365_billingcontract", "work365_Invoice_BillingContract"),
                Attribute("totalamount", MONEY),
                _lookup("transactioncurrencyid", "transactioncurrency", "transactioncurrencyid"),
                *_states("invoice", [(0, "Active", 1), (1, "Closed", 2), (2, "Paid", 100001), (3, "Canceled", 100003)],
                         [(1, "New", 0), (2, "Partially Shipped", 1), (100001, "Complete", 2), (100003, "Canceled", 3)]),
                *_system(),
            ),
            display_name="Invoice",
            object_type_code=1090,
        ),
    )


#: Every table with every column the sandbox stores, under the names it stores them by.
ENTITIES: tuple[Entity, ...] = _entities()
BY_LOGICAL: dict[str, Entity] = {e.logical_name: e for e in ENTITIES}
BY_SET: dict[str, Entity] = {e.entity_set: e for e in ENTITIES}

NAMINGS = ("published", "compact")

# -- the published naming ---------------------------------------------------------------------
#: Work 365 prefixes a table's columns with the table's name (SPEC §2): storage (compact) column →
#: the name the published naming shows. Lookups get a navigation property of the same name with
#: its parts capitalised, as Dataverse's schema names have them.
PUBLISHED: dict[str, dict[str, str]] = {
    "work365_provider": {"work365_name": "work365_provider_name", "work365_internalname": "work365_provider_internalname",
                         "work365_providertype": "work365_provider_providertype"},
    "work365_provideraccount": {
        "work365_providerspecificaccountid": "work365_provideraccount_providerspecificaccountid",
        "work365_provider": "work365_provideraccount_provider", "work365_account": "work365_provideraccount_account",
        "work365_syncstatus": "work365_provideraccount_syncstatus"},
    "work365_billingcontract": {
        "work365_name": "work365_billingcontract_name", "work365_customer": "work365_billingcontract_customer",
        "work365_startdate": "work365_billingcontract_startdate", "work365_enddate": "work365_billingcontract_enddate",
        "work365_billingfrequency": "work365_billingcontract_billingfrequency",
        "work365_billingpolicy": "work365_billingcontract_billingpolicy",
        "work365_pricelist": "work365_billingcontract_pricelist", "work365_isdefault": "work365_billingcontract_isdefault"},
    "work365_subscription": {
        "work365_subscriptionname": "work365_subscription_subscriptionname",
        "work365_friendlyname": "work365_subscription_friendlyname",
        "work365_billingcontract": "work365_subscription_billingcontract",
        "work365_provider": "work365_subscription_provider",
        "work365_provideraccount": "work365_subscription_provideraccount",
        "work365_product": "work365_subscription_product",
        "work365_parentsubscription": "work365_subscription_parentsubscription",
        "work365_providerpartnumber": "work365_subscription_providerpartnumber",
        "work365_providersubscriptionid": "work365_subscription_providersubscriptionid",
        "work365_quantity": "work365_subscription_quantity",
        "work365_effectivestartdate": "work365_subscription_effectivestartdate",
        "work365_salesunit": "work365_subscription_salesunit",
        "work365_sellingprice": "work365_subscription_sellingprice",
        "work365_costprice": "work365_subscription_costprice",
        "work365_billablestatus": "work365_subscription_billablestatus"},
    "work365_licensechangelog": {
        "work365_name": "work365_licensechangelog_name", "work365_subscription": "work365_licensechangelog_subscription",
        "work365_account": "work365_licensechangelog_account", "work365_event": "work365_licensechangelog_event",
        "work365_quantity": "work365_licensechangelog_quantity",
        "work365_effectivedate": "work365_licensechangelog_effectivedate",
        "work365_provisioningstatus": "work365_licensechangelog_provisioningstatus",
        "work365_invoice": "work365_licensechangelog_invoice",
        "work365_sellingprice": "work365_licensechangelog_sellingprice",
        "work365_costprice": "work365_licensechangelog_costprice"},
}
#: Collection-valued navigation properties of the published naming (named after the relationship).
PUBLISHED_COLLECTIONS = {
    "work365_account_provideraccounts": "work365_provideraccount_account_account",
    "work365_account_billingcontracts": "work365_billingcontract_customer_account",
    "work365_account_subscriptions": "work365_subscription_customer_account",
    "work365_provider_provideraccounts": "work365_provideraccount_provider_work365_provider",
    "work365_billingcontract_subscriptions": "work365_subscription_billingcontract_work365_billingcontract",
    "work365_subscription_licensechangelogs": "work365_licensechangelog_subscription_work365_subscription",
}


def _nav_name(logical: str) -> str:
    """``work365_provideraccount_account`` → ``work365_ProviderAccount_Account``, as a schema name reads."""
    prefix, _, rest = logical.partition("_")
    words = {"provideraccount": "ProviderAccount", "billingcontract": "BillingContract",
             "licensechangelog": "LicenseChangeLog", "parentsubscription": "ParentSubscription",
             "linkedsubscription": "LinkedSubscription", "invoiceproduct": "InvoiceProduct", "pricelist": "PriceList"}
    return prefix + "_" + "_".join(words.get(part, part.capitalize()) for part in rest.split("_"))


def _published(entity: Entity) -> Entity:
    renames = PUBLISHED.get(entity.logical_name, {})
    attributes = []
    for attr in entity.attributes:
        new = renames.get(attr.logical_name)
        if new is None:
            attributes.append(attr)
            continue
        nav = _nav_name(new) if attr.is_lookup else None
        attributes.append(replace(attr, logical_name=new, column=attr.logical_name, schema_name="", nav=nav,
                                  option_set_name=attr.option_set_name and new))
    collections = tuple(replace(c, name=PUBLISHED_COLLECTIONS.get(c.name, c.name),
                                schema_name=PUBLISHED_COLLECTIONS.get(c.name, c.schema_name))
                        for c in entity.collections)
    primary = renames.get(entity.primary_name, entity.primary_name)
    return replace(entity, attributes=tuple(attributes), collections=collections, primary_name=primary,
                   naming="published")


def _compact(entity: Entity) -> Entity:
    return replace(entity, attributes=tuple(a for a in entity.attributes if not a.published_only),
                   collections=tuple(c for c in entity.collections if not BY_LOGICAL[c.entity].published_only),
                   naming="compact")


@dataclass(frozen=True)
class Catalog:
    """The tables as one naming shows them on the Web API (they are stored the same either way)."""

    naming: str
    entities: tuple[Entity, ...]

    @cached_property
    def by_logical(self) -> dict[str, Entity]:
        return {e.logical_name: e for e in self.entities}

    @cached_property
    def by_set(self) -> dict[str, Entity]:
        return {e.entity_set: e for e in self.entities}


_CATALOGS: dict[str, Catalog] = {}


def catalog(naming: str) -> Catalog:
    """``published`` (Work 365's published, table-prefixed names) or ``compact`` (the shorter names
    of earlier sandboxes, kept so that anything written against them keeps working)."""
    if naming not in NAMINGS:
        raise ValueError(f"unknown naming {naming!r}; use {' or '.join(NAMINGS)}")
    if naming not in _CATALOGS:
        build = _published if naming == "published" else _compact
        _CATALOGS[naming] = Catalog(naming, tuple(build(e) for e in ENTITIES
                                                  if naming == "published" or not e.published_only))
    return _CATALOGS[naming]


def option_value(entity: str, attribute: str, label: str) -> int:
    """The sandbox's integer for an option label (used by the seed and tests)."""
    attr = BY_LOGICAL[entity].by_name[attribute]
    for option in attr.options:
        if option.label == label:
            return option.value
    raise KeyError(f"{entity}.{attribute} has no option {label!r}")

"""Deterministic seed data: the demo book, or a large generated book for benchmarks.

The demo book (``scale=None``) holds about 30 customers, each there for a case an operator
meets: unmapped and mapped provider accounts, near-duplicate CRM accounts, tenant domains that
match a website or a contact's email, manual TechData subscriptions with LCL histories beside
their synced replacements, an LCL still Awaiting Provisioning, an LCL invoiced on another
account, one SKU held monthly and annually, LCL mismatches, and names with punctuation,
accents, emoji, right-to-left text, escape sequences and Rich-markup-looking text.

The same seed always gives the same database: every id, timestamp and token comes from one
``random.Random(seed)``, never from the clock.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from w365tui.domain.sync import clip
from w365tui.sandbox.schema import (
    BILLABLE_STATUSES,
    BILLING_FREQUENCIES,
    BILLING_POLICIES,
    BY_LOGICAL,
    LCL_EVENTS,
    LCL_STATUS_ARCHIVED,
    PROVIDER_TYPES,
    PROVISIONING_STATUSES,
    SUBSCRIPTION_STATUS_SUSPENDED,
    SYNC_STATUSES,
)
from w365tui.sandbox.store import Store

ION_ACCOUNT_ID = 100042
MICROSOFT_PROFILE = ("30", "Microsoft", "Microsoft")  # providerId, displayName, shortName
AWS_PROFILE = ("12", "Amazon Web Services", "AWS")
BASE_DAY = date(2025, 1, 6)

TECHDATA_INTERNAL = "Providers.TechDataCspProvider"


def _opt(options: list[tuple[int, str]], label: str) -> int:
    return next(v for v, text in options if text == label)


EV = {label: value for value, label in LCL_EVENTS}
PROV = {label: value for value, label in PROVISIONING_STATUSES}
PTYPE = {label: value for value, label in PROVIDER_TYPES}
MONTHLY = _opt(BILLING_FREQUENCIES, "Monthly")
ANNUAL = _opt(BILLING_FREQUENCIES, "Annual")
ADVANCE = _opt(BILLING_POLICIES, "Advance")
BILLABLE = _opt(BILLABLE_STATUSES, "Billable")
SYNC_ENABLED = _opt(SYNC_STATUSES, "Enabled")


@dataclass(frozen=True)
class Sku:
    name: str
    code: str
    ccp_sku: str
    price: float


SKUS = (
    Sku("Microsoft 365 Business Basic", "CFQ7TTC0LH18", "Microsoft-365-Business-Basic", 6.0),
    Sku("Microsoft 365 Business Standard", "CFQ7TTC0LDPB", "Microsoft-365-Business-Standard", 12.5),
    Sku("Microsoft 365 Business Premium", "CFQ7TTC0LCHC", "Microsoft-365-Business-Premium", 22.0),
    Sku("Microsoft 365 E3", "CFQ7TTC0LFLX", "Microsoft-365-E3", 36.0),
    Sku("Microsoft 365 E5", "CFQ7TTC0LFLZ", "Microsoft-365-E5", 57.0),
    Sku("Exchange Online (Plan 1)", "CFQ7TTC0LH16", "Exchange-Online-Plan-1", 4.0),
    Sku("Power BI Pro", "CFQ7TTC0L3PB", "Power-BI-Pro", 10.0),
)


def part_number(sku: Sku, term: str) -> str:
    return f"{sku.code}:0001:{term}:M"


# StreamOne only. Customers holding an Azure plan: one subscription of quantity 1 at price 0
# with no manufacturer part number, ending when it starts, as the real API shows them.
AZURE_PLAN_HOLDERS = frozenset({"Relecloud", "Trey Research"})
# Offers bought before this day carry the legacy id ("NL,<product>,<sku>"), later ones the
# new-commerce one ("<product>:<sku>:<catalog>"), as the real data mixes both.
NCE_OFFERS_FROM = date(2024, 7, 1)
ION_SUBSCRIPTION_COLUMNS = (
    "id", "customer_id", "subscription_id", "name", "total_licenses", "status",
    "product_id", "product_display_name", "sku_id", "sku_display_name", "plan_id",
    "offer_id", "mfg_part_number", "billing_cycle", "billing_term", "start_date",
    "end_date", "renewal_date", "auto_renew", "price", "cost", "currency", "last_updated",
    "plan_display_name", "reseller_po", "customer_po",
)


def _purchase_orders(subscription_guid: str) -> tuple[str | None, str | None]:
    """The reseller's and the customer's PO numbers of an order: on some orders, not all, and a
    customer PO only beside a reseller PO. Drawn from the subscription's own id, not the book's
    generator, so the rest of the book (the Dataverse side) draws what it drew before."""
    rng = random.Random(f"po:{subscription_guid}")
    if rng.random() < 0.4:
        return None, None
    reseller = f"RPO-{rng.randint(100000000, 999999999)}" if rng.random() < 0.5 else str(rng.randint(10000, 9999999))
    customer = str(rng.randint(100000, 99999999)) if rng.random() < 0.5 else None
    return reseller, customer


@dataclass
class Demo:
    """One customer of the demo book and the case it stands for."""

    org: str
    crm: str | None = None
    website: str | None = None
    email: str | None = None
    domain: str | None = None
    mapped: bool = False
    in_work365: bool = True  # a provider account exists on the TechData provider
    status: str = "ACTIVE"
    skus: tuple[tuple[int, int, str], ...] = ((0, 5, "P1M"),)  # (sku index, qty, term)
    extra_crm: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    aws_first: bool = False


# Where the demo's CRM accounts are: what tells near-duplicate names apart.
CITIES = {"Contoso Ltd": "Seattle", "Contoso Limited": "Manchester", "Contoso Pharmaceuticals": "Basel",
          "Fabrikam Inc": "Redmond", "Northwind Traders": "Portland", "A. Datum Corp": "Chicago",
          "Tailspin Toys, Inc": "Denver", "Lamna Healthcare GmbH": "Munich", "Alpine Ski House": "Åre",
          "Cafe Muller GmbH": "Cologne", "O'Brien and Sons UK Limited": "Leeds", "Pizza Palace AB": "Malmö",
          "Coho Winery": "Napa", "Wide World Importers": "Rotterdam"}

LONG_NAME = ("Consolidated Regional Association of Independent Northern Hemisphere Agricultural "
             "Equipment Cooperatives, Distributors and Allied Service Providers for the Greater "
             "Metropolitan Area and Outlying Districts Limited")

DEMO: tuple[Demo, ...] = (
    Demo("Contoso Ltd", "Contoso Ltd", "https://www.contoso.com", "it@contoso.com", "contoso.com",
         extra_crm=("Contoso Limited", "Contoso Pharmaceuticals"), skus=((0, 25, "P1M"), (6, 4, "P1M"))),
    Demo("Fabrikam, Inc.", "Fabrikam Inc", "https://fabrikam.com", "finance@fabrikam.com", "fabrikam.com",
         mapped=True, skus=((1, 12, "P1M"),), tags=("worked-example",)),
    Demo("Northwind Traders", "Northwind Traders", "https://www.northwindtraders.com", "orders@northwind.example",
         "northwindtraders.com", skus=((2, 40, "P1M"),)),
    Demo("Adatum Corporation", "A. Datum Corp", None, "jane.doe@adatum.com", "adatum.com", skus=((3, 15, "P1Y"),)),
    Demo("Tailspin Toys Inc.", "Tailspin Toys, Inc", "https://tailspintoys.com", "it@tailspintoys.com",
         "tailspintoys.com", mapped=True, skus=((0, 10, "P1M"), (0, 20, "P1Y")), tags=("monthly-and-annual",)),
    Demo("Wide World Importers LLC", "Wide World Importers", "https://wideworldimporters.com", None,
         "wideworldimporters.com", mapped=True, skus=((2, 8, "P1M"),), tags=("awaiting-provisioning",)),
    Demo("Lamna Healthcare GmbH", "Lamna Healthcare GmbH", "https://lamna.de", "it@lamna.de", "lamna.de",
         mapped=True, skus=((3, 30, "P1Y"),)),
    Demo("Alpine Ski House AB", "Alpine Ski House", "https://alpineskihouse.se", "ekonomi@alpineskihouse.se",
         "alpineskihouse.se", mapped=True, skus=((1, 6, "P1M"),), tags=("invoiced-elsewhere",)),
    Demo("Café Müller GmbH", "Cafe Muller GmbH", "https://cafe-mueller.de", "info@cafe-mueller.de",
         "cafemueller.onmicrosoft.com", skus=((5, 3, "P1M"),)),
    Demo("O'Brien & Sons (UK) Ltd.", "O'Brien and Sons UK Limited", "https://obrienandsons.co.uk", None,
         "obrienandsons.co.uk", skus=((0, 7, "P1M"),)),
    Demo("Pizza 🍕 Palace AB", "Pizza Palace AB", None, "hej@pizzapalace.se", "pizzapalace.se", mapped=True,
         skus=((5, 12, "P1M"),)),
    Demo("[bold red]Evil[/] Corp", "[bold red]Evil[/] Corp", "https://evil.example", None,
         "evilcorp.onmicrosoft.com", skus=((0, 1, "P1M"),)),
    Demo("\x1b[31mRed Alert\x1b[0m Ltd", "Red Alert Ltd", None, "ops@redalert.example", "redalert.example",
         skus=((0, 2, "P1M"),)),
    Demo("شركة المثال للتجارة", "شركة المثال للتجارة", "https://example.sa", None, "mithal.onmicrosoft.com",
         skus=((1, 9, "P1M"),)),
    Demo(LONG_NAME, LONG_NAME[:160], None, None, "craineh.onmicrosoft.com", skus=((0, 50, "P1M"),)),
    Demo("Woodgrove Bank", "Woodgrove Bank", "https://woodgrovebank.com", "it@woodgrovebank.com",
         "woodgrovebank.com", mapped=True, skus=((4, 20, "P1Y"), (6, 5, "P1M")), tags=("lcl-mismatch",)),
    Demo("Proseware, Inc.", "Proseware Inc", "https://proseware.com", None, "proseware.com", mapped=True,
         status="INACTIVE", skus=((0, 3, "P1M"),)),
    Demo("Litware Inc", "Litware, Inc.", "https://litware.com", "admin@litware.com", "litware.com",
         in_work365=False, skus=((2, 11, "P1M"),)),
    Demo("Trey Research", None, None, None, "treyresearch.net", in_work365=False, skus=((3, 4, "P1M"),)),
    Demo("Coho Winery", "Coho Winery", "https://cohowinery.com", "info@cohowinery.com", "cohowinery.com",
         mapped=True, skus=((0, 6, "P1M"),), tags=("duplicate-mapping",)),
    Demo("Margie's Travel", "Margie's Travel", "https://margiestravel.com", None, "margiestravel.com",
         mapped=True, skus=((2, 14, "P1M"),), tags=("already-replaced",)),
    Demo("Fourth Coffee", "Fourth Coffee", "https://fourthcoffee.com", "barista@fourthcoffee.com",
         "fourthcoffee.com", mapped=True, skus=((5, 9, "P1M"),), tags=("missing-data",)),
    Demo("Relecloud", "Relecloud", "https://relecloud.com", None, "relecloud.com", skus=((3, 22, "P1M"),),
         aws_first=True),
    Demo("VanArsdel Ltd", "VanArsdel Limited", "https://vanarsdel.com", None, "vanarsdel.com",
         skus=((1, 16, "P1M"),)),
    Demo("Humongous Insurance", "Humongous Insurance", "https://humongousinsurance.com", None,
         "humongousinsurance.com", mapped=True, skus=((3, 60, "P1M"), (5, 12, "P1M")), tags=("manual-pair",)),
    Demo("Blue Yonder Airlines", "Blue Yonder Airlines", "https://blueyonderairlines.com", None,
         "blueyonderairlines.com", mapped=True, skus=((4, 9, "P1Y"),), tags=("manual-pair",)),
    Demo("Graphic Design Institute", "Graphic Design Inst.", None, "office@graphicdesigninstitute.com",
         "graphicdesigninstitute.com", skus=((0, 13, "P1M"),)),
    Demo("School of Fine Art", "School of Fine Art", "https://schooloffineart.net", None,
         "schooloffineart.net", skus=((0, 30, "P1M"),), tags=("unmapped-synced",)),
    Demo("Southridge Video", "Southridge Video", "https://southridgevideo.com", None, "southridgevideo.com",
         mapped=True, skus=((6, 3, "P1M"),)),
    Demo("Best For You Organics Company", "Best For You Organics Co.", "https://bestforyouorganics.com", None,
         "bestforyouorganics.com", skus=((1, 5, "P1M"),)),
)


@dataclass
class _Book:
    """Rows gathered in memory, written in one go."""

    rng: random.Random
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    version: int = 0
    ion_customers: list[tuple] = field(default_factory=list)
    ion_profiles: list[tuple] = field(default_factory=list)
    ion_subscriptions: list[tuple] = field(default_factory=list)
    clock: datetime = datetime(2025, 1, 6, 8, 0, 0)
    ids: tuple[str, str] = ("customer", "microsoft")  # the kinds of id the connector wrote

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def stamp(self) -> str:
        self.clock += timedelta(seconds=self.rng.randint(1, 600))
        return self.clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def add(self, entity: str, values: dict[str, Any]) -> dict[str, Any]:
        meta = BY_LOGICAL[entity]
        self.version += 1
        row = {a.logical_name: None for a in meta.attributes}
        row.update(values)
        if row[meta.primary_id] is None:
            row[meta.primary_id] = self.guid()
        if meta.has_state:
            row["statecode"] = 0 if row["statecode"] is None else row["statecode"]
            if row["statuscode"] is None:
                row["statuscode"] = next(o.default_status for o in meta.state_options() if o.value == row["statecode"])
        stamp = self.stamp()
        row["createdon"] = row["createdon"] or stamp
        row["modifiedon"] = row["modifiedon"] or stamp
        row["versionnumber"] = self.version
        self.rows[entity].append(row)
        return row

    def write(self, store: Store) -> None:
        with store.transaction():
            for entity, rows in self.rows.items():
                if not rows:
                    continue
                columns = list(rows[0])
                names = ", ".join(f'"{c}"' for c in columns)
                marks = ", ".join("?" for _ in columns)
                store.conn.executemany(
                    f'INSERT INTO "{entity}" ({names}) VALUES ({marks})',
                    (tuple(r[c] for c in columns) for r in rows),
                )
            store.conn.executemany(
                "INSERT INTO ion_customer VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self.ion_customers
            )
            store.conn.executemany("INSERT INTO ion_cloud_profile VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self.ion_profiles)
            store.conn.executemany(
                f"INSERT INTO ion_subscription ({', '.join(ION_SUBSCRIPTION_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in ION_SUBSCRIPTION_COLUMNS)})",
                self.ion_subscriptions,
            )
            store.set_meta("version", str(self.version))


@dataclass
class _Context:
    providers: dict[str, dict[str, Any]]
    products: dict[str, dict[str, Any]]
    currencies: dict[str, dict[str, Any]]
    pricelists: dict[str, dict[str, Any]]


def _reference_data(book: _Book) -> _Context:
    from w365tui.sandbox.dataverse import USER_ID

    book.add("systemuser", {"systemuserid": USER_ID, "fullname": "Sandbox Operator",
                            "domainname": "operator@sandbox.example", "internalemailaddress": "operator@sandbox.example"})
    currencies = {}
    for code, name, symbol in (("USD", "US Dollar", "$"), ("EUR", "Euro", "€"), ("GBP", "Pound Sterling", "£"),
                               ("SEK", "Swedish Krona", "kr")):
        currencies[code] = book.add("transactioncurrency", {"currencyname": name, "isocurrencycode": code,
                                                            "currencysymbol": symbol})
    pricelists = {
        code: book.add("pricelevel", {"name": f"Standard {code}", "transactioncurrencyid": row["transactioncurrencyid"]})
        for code, row in currencies.items()
    }
    providers = {
        # The automatic connector is found by type and internal name; its display name is not "TechData".
        "techdata": book.add("work365_provider", {"work365_name": "TD SYNNEX StreamOne",
                                                  "work365_internalname": TECHDATA_INTERNAL,
                                                  "work365_providertype": PTYPE["Automatic"]}),
        # A manual provider that *is* called TechData: the old hand-kept subscriptions live here.
        "manual": book.add("work365_provider", {"work365_name": "TechData",
                                                "work365_internalname": "Providers.ManualProvider",
                                                "work365_providertype": PTYPE["Manual"]}),
        "ion": book.add("work365_provider", {"work365_name": "StreamOne Ion (preview)",
                                             "work365_internalname": "Providers.StreamOneIonProvider",
                                             "work365_providertype": PTYPE["Automatic"],
                                             "statecode": 1, "statuscode": 2}),
        "direct": book.add("work365_provider", {"work365_name": "Microsoft Direct",
                                                "work365_internalname": "Providers.DoNothingProvider",
                                                "work365_providertype": PTYPE["Do Nothing"]}),
    }
    products = {}
    for sku in SKUS:
        for term in ("P1M", "P1Y"):
            number = part_number(sku, term)
            label = "monthly" if term == "P1M" else "annual"
            products[number] = book.add("product", {"name": f"{sku.name} ({label})", "productnumber": number})
    return _Context(providers, products, currencies, pricelists)


def _slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isascii() and c.isalnum())[:20] or "customer"


CONNECTOR_IDS = ("customer", "microsoft")  # what the sandbox's connector writes unless told otherwise
ACCOUNT_ID_KINDS = ("customer", "tenant")
SUBSCRIPTION_ID_KINDS = ("microsoft", "ion")


def parse_connector_ids(text: str) -> tuple[str, str]:
    """``customer,microsoft`` and the like: which ids the book's provider accounts and
    subscriptions hold, as Work 365's connector would have written them."""
    parts = [p.strip().lower() for p in text.split(",")]
    if len(parts) != 2 or parts[0] not in ACCOUNT_ID_KINDS or parts[1] not in SUBSCRIPTION_ID_KINDS:
        raise ValueError(f"connector ids must be <{'|'.join(ACCOUNT_ID_KINDS)}>,<{'|'.join(SUBSCRIPTION_ID_KINDS)}>, "
                         f"not {text!r}")
    return parts[0], parts[1]


class _Builder:
    def __init__(self, book: _Book, ctx: _Context):
        self.book = book
        self.ctx = ctx
        self.tenants: dict[int, str] = {}  # StreamOne customer id → Microsoft tenant id
        self.customer_ids = iter(range(306870, 10_000_000))
        self.ion_sub_ids = iter(range(2277242, 100_000_000))

    # -- CRM --------------------------------------------------------------------------------
    def account(self, name: str, website: str | None, email: str | None, currency: str) -> dict[str, Any]:
        account = self.book.add("account", {"name": name, "websiteurl": website, "emailaddress1": None,
                                            "accountnumber": f"C{self.book.rng.randint(10000, 99999)}",
                                            "address1_city": CITIES.get(name)})
        if email:
            first = email.split("@")[0].replace(".", " ").title()
            contact = self.book.add("contact", {"fullname": first, "firstname": first.split()[0],
                                                "lastname": first.split()[-1], "emailaddress1": email,
                                                "parentcustomerid": account["accountid"]})
            account["primarycontactid"] = contact["contactid"]
        account["_contract"] = None
        self.contract(account, currency, default=True)
        return account

    def contract(self, account: dict[str, Any], currency: str, *, default: bool, annual: bool = False) -> dict[str, Any]:
        row = self.book.add("work365_billingcontract", {
            "work365_name": f"{account['name'][:150]} — {'Annual' if annual else 'Monthly'}",
            "work365_customer": account["accountid"],
            "work365_startdate": BASE_DAY.isoformat(),
            "work365_billingfrequency": ANNUAL if annual else MONTHLY,
            "work365_billingpolicy": ADVANCE,
            "transactioncurrencyid": self.ctx.currencies[currency]["transactioncurrencyid"],
            "work365_pricelist": self.ctx.pricelists[currency]["pricelevelid"],
            "work365_isdefault": int(default),
        })
        if default:
            account["_contract"] = row
        return row

    # -- StreamOne --------------------------------------------------------------------------
    def ion_customer(self, demo: Demo) -> int:
        rng = self.book.rng
        cid = next(self.customer_ids)
        stamp = self.book.stamp()
        contact = (demo.email or f"admin@{demo.domain}").split("@")[0].replace(".", " ").title()
        self.book.ion_customers.append((
            cid, ION_ACCOUNT_ID, demo.org, contact, demo.email or f"admin@{demo.domain}",
            f"+1 555 {rng.randint(1000000, 9999999)}", f"{rng.randint(1, 999)} Main Street", "Springfield",
            "", f"{rng.randint(10000, 99999)}", "US", demo.status, stamp, stamp,
        ))
        profiles = [MICROSOFT_PROFILE]
        if demo.aws_first:
            profiles.insert(0, AWS_PROFILE)
        for position, (provider, display, short) in enumerate(profiles):
            tenant = self.book.guid() if short == "Microsoft" else None
            domain = demo.domain if short == "Microsoft" else None
            self.book.ion_profiles.append((cid, position, provider, display, short, 1, tenant, domain))
            if tenant:
                self.tenants[cid] = tenant
            if tenant and demo.org in AZURE_PLAN_HOLDERS:
                self.ion_azure_plan(cid, tenant)
        return cid

    def ion_azure_plan(self, cid: int, tenant: str) -> None:
        """An Azure plan, drawn from the tenant's id rather than the book's generator (which
        would shift every row drawn after it)."""
        rng = random.Random(f"azure-plan:{tenant}")
        sid = next(self.ion_sub_ids)
        start = BASE_DAY - timedelta(days=rng.randint(0, 300))
        start_text = f"{start.isoformat()}T{rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        start_text += f".{rng.randint(0, 999):03d}Z"
        self.book.ion_subscriptions.append((
            sid, cid, str(uuid.UUID(int=rng.getrandbits(128), version=4)), "Azure Plan", "1", "active",
            "MSAZURE", "Microsoft Azure Plan", "Azure-Plan", "Azure Plan", "Azure-Plan-Monthly",
            "DZH318Z0BPS6:0001:CFQ7TTC0RN98", None, "monthly", "P1M", start_text,
            start_text, start_text, 1, 0.0, 0.0, "USD", f"{BASE_DAY.isoformat()}T06:00:00Z",
            "Monthly", None, None,
        ))

    def ion_subscription(self, cid: int, org: str, sku: Sku, quantity: int, term: str, status: str = "active") -> dict[str, Any]:
        rng = self.book.rng
        sid = next(self.ion_sub_ids)
        start = BASE_DAY - timedelta(days=rng.randint(0, 300))
        months = 1 if term == "P1M" else 12
        end = start + timedelta(days=30 * months)
        ms = rng.randint(0, 999)
        start_text = f"{start.isoformat()}T{rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        start_text += f".{ms:03d}Z" if ms % 2 else "Z"
        price = round(sku.price * (1 if term == "P1M" else 0.95), 4)
        data = {
            "id": sid, "subscription_id": self.book.guid(), "name": f"{sku.name}", "quantity": quantity,
            "sku": sku, "term": term, "start": start.isoformat(), "price": price, "cost": round(price * 0.85, 4),
            "part_number": part_number(sku, term),
        }
        offer = f"NL,{sku.code},0001" if start < NCE_OFFERS_FROM else f"{sku.code}:0001:CFQ7TTC0RN98"
        self.book.ion_subscriptions.append((
            sid, cid, data["subscription_id"], sku.name, str(quantity), status,
            f"{sku.ccp_sku}-NCE", f"{sku.name} NCE", sku.ccp_sku, sku.name, f"{'Monthly' if term == 'P1M' else 'Annual'}-n1",
            offer, data["part_number"], "monthly", term, start_text,
            f"{end.isoformat()}T00:00:00Z", f"{end.isoformat()}T00:00:00Z", 1, price, data["cost"], "USD",
            f"{BASE_DAY.isoformat()}T06:00:00Z", sku.name, *_purchase_orders(data["subscription_id"]),
        ))
        return data

    # -- Work 365 ---------------------------------------------------------------------------
    def provider_account(self, name: str, cid: int, account: dict[str, Any] | None, provider: str = "techdata") -> dict[str, Any]:
        return self.book.add("work365_provideraccount", {
            "work365_provideraccount_name": clip(name, 200),
            "work365_providerspecificaccountid": self.tenants[cid] if self.book.ids[0] == "tenant" else str(cid),
            "work365_provider": self.ctx.providers[provider]["work365_providerid"],
            "work365_account": account["accountid"] if account else None,
            "work365_syncstatus": SYNC_ENABLED,
        })

    def subscription(self, *, account: dict[str, Any] | None, contract: dict[str, Any] | None, provider: str,
                     provider_account: dict[str, Any] | None, sku: Sku, term: str, quantity: int, start: str,
                     provider_sub_id: str | None, price: float, name: str | None = None,
                     inactive: bool = False) -> dict[str, Any]:
        product = self.ctx.products[part_number(sku, term)]
        return self.book.add("work365_subscription", {
            "work365_subscriptionname": name or f"{sku.name} ({'monthly' if term == 'P1M' else 'annual'})",
            "work365_friendlyname": sku.name,
            "work365_subscription_customer": account["accountid"] if account else None,
            "work365_billingcontract": contract["work365_billingcontractid"] if contract else None,
            "work365_provider": self.ctx.providers[provider]["work365_providerid"],
            "work365_provideraccount": provider_account["work365_provideraccountid"] if provider_account else None,
            "work365_product": product["productid"],
            "work365_providerpartnumber": part_number(sku, term),
            "work365_providersubscriptionid": provider_sub_id,
            "work365_quantity": quantity,
            "work365_effectivestartdate": start,
            "work365_salesunit": "Licenses",
            "work365_sellingprice": round(price * 1.2, 2),
            "work365_costprice": round(price, 2),
            "transactioncurrencyid": self.ctx.currencies["USD"]["transactioncurrencyid"],
            "work365_billablestatus": BILLABLE,
            "statecode": 1 if inactive else 0,
            "statuscode": SUBSCRIPTION_STATUS_SUSPENDED if inactive else 1,
        })

    def lcl(self, sub: dict[str, Any], event: str, quantity: int, day: str, *, status: str = "Not Applicable",
            archived: bool = False, invoice: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.book.add("work365_licensechangelog", {
            "work365_name": f"{event}: {sub['work365_subscriptionname']}"[:200],
            "work365_subscription": sub["work365_subscriptionid"],
            "work365_account": sub["work365_subscription_customer"],
            "work365_event": EV[event],
            "work365_quantity": quantity,
            "work365_effectivedate": day,
            "work365_provisioningstatus": PROV[status],
            "work365_invoice": invoice["invoiceid"] if invoice else None,
            "work365_sellingprice": sub["work365_sellingprice"],
            "work365_costprice": sub["work365_costprice"],
            "transactioncurrencyid": sub["transactioncurrencyid"],
            "statecode": 1 if archived else 0,
            "statuscode": LCL_STATUS_ARCHIVED if archived else 1,
        })

    def invoice(self, account: dict[str, Any], number: str, amount: float) -> dict[str, Any]:
        return self.book.add("invoice", {
            "name": f"Invoice {number}", "invoicenumber": number, "customerid": account["accountid"],
            "work365_invoice_billingcontract": account["_contract"]["work365_billingcontractid"],
            "totalamount": amount, "transactioncurrencyid": self.ctx.currencies["USD"]["transactioncurrencyid"],
            "statecode": 0, "statuscode": 1,
        })

    def synced(self, data: dict[str, Any], account: dict[str, Any] | None, contract: dict[str, Any] | None,
               pa: dict[str, Any], *, mismatch: int = 0) -> dict[str, Any]:
        """A TechData subscription as the nightly sync leaves it: one Create LCL, Not Applicable."""
        sub = self.subscription(account=account, contract=contract, provider="techdata", provider_account=pa,
                                sku=data["sku"], term=data["term"], quantity=data["quantity"], start=data["start"],
                                provider_sub_id=data["subscription_id"] if self.book.ids[1] == "microsoft"
                                else str(data["id"]), price=data["price"])
        self.lcl(sub, "Create", data["quantity"] + mismatch, data["start"])
        return sub


def _manual_history(b: _Builder, account: dict[str, Any], sku: Sku, term: str, steps: list[int], *,
                    start: str, invoice: dict[str, Any] | None = None, invoice_at: int = 0,
                    awaiting_last: bool = False, deactivated: bool = False) -> dict[str, Any]:
    quantity = sum(steps)
    sub = b.subscription(account=account, contract=account["_contract"], provider="manual", provider_account=None,
                         sku=sku, term=term, quantity=quantity, start=start, provider_sub_id=None,
                         price=sku.price, name=f"{sku.name} (manual)", inactive=deactivated)
    day = date.fromisoformat(start)
    for index, step in enumerate(steps):
        event = "Create" if index == 0 else "Update"
        last = index == len(steps) - 1
        status = "Awaiting Provisioning" if awaiting_last and last else "Not Applicable"
        archived = not (awaiting_last and last) and index < len(steps) - 1
        b.lcl(sub, event, step, (day + timedelta(days=35 * index)).isoformat(), status=status,
              archived=archived, invoice=invoice if (invoice and index == invoice_at) else None)
    if deactivated:
        b.lcl(sub, "Deactivate", -quantity, BASE_DAY.isoformat(), archived=True)
    return sub


def _demo(book: _Book, ctx: _Context) -> None:
    b = _Builder(book, ctx)
    accounts: dict[str, dict[str, Any]] = {}
    for demo in DEMO:
        account = None
        if demo.crm:
            account = b.account(demo.crm, demo.website, demo.email, "USD")
            accounts[demo.org] = account
        for extra in demo.extra_crm:
            b.account(extra, None, None, "USD")
        cid = b.ion_customer(demo)
        subs = [b.ion_subscription(cid, demo.org, SKUS[i], qty, term) for i, qty, term in demo.skus]
        if not demo.in_work365:
            continue
        mapped_to = account if demo.mapped else None
        pa = b.provider_account(demo.org, cid, mapped_to)
        contract = account["_contract"] if (account and demo.mapped) else None
        if "monthly-and-annual" in demo.tags and account:
            contract = account["_contract"]
            annual = b.contract(account, "USD", default=False, annual=True)
            b.synced(subs[0], account, contract, pa)
            b.synced(subs[1], account, annual, pa)
            continue
        if "duplicate-mapping" in demo.tags and account:
            second_cid = b.ion_customer(Demo(f"{demo.org} (EU tenant)", domain="cohowinery.eu"))
            b.ion_subscription(second_cid, demo.org, SKUS[0], 2, "P1M")
            b.provider_account(f"{demo.org} (EU tenant)", second_cid, account)
        if "unmapped-synced" in demo.tags:
            for data in subs:  # synced before mapping: no customer, no contract
                b.synced(data, None, None, pa)
            continue
        if not demo.mapped:
            continue
        if "missing-data" in demo.tags:
            sub = b.synced(subs[0], account, None, pa)
            sub["work365_sellingprice"] = None
            continue
        for index, data in enumerate(subs):
            mismatch = 2 if ("lcl-mismatch" in demo.tags and index == 0) else 0
            b.synced(data, account, contract, pa, mismatch=mismatch)
        assert account is not None
        if "worked-example" in demo.tags:
            # SPEC §1: manual M (Create +10, Update +3, Update −1; qty 12) beside synced T (Create +12).
            _manual_history(b, account, SKUS[1], "P1M", [10, 3, -1], start="2023-02-01")
        if "awaiting-provisioning" in demo.tags:
            _manual_history(b, account, SKUS[2], "P1M", [6, 2], start="2023-05-15", awaiting_last=True)
        if "invoiced-elsewhere" in demo.tags:
            other = accounts["Lamna Healthcare GmbH"]
            wrong = b.invoice(other, "INV-2024-0042", 75.0)
            # an Update LCL invoiced on another account: the replacement must not move it
            _manual_history(b, account, SKUS[1], "P1M", [4, 2], start="2023-09-01", invoice=wrong, invoice_at=1)
        if "manual-pair" in demo.tags:
            first = demo.skus[0]
            qty = first[1]
            _manual_history(b, account, SKUS[first[0]], first[2], [qty - 5, 7, -2], start="2022-11-01",
                            invoice=b.invoice(account, f"INV-{book.rng.randint(1000, 9999)}", 120.0))
        if "already-replaced" in demo.tags:
            _manual_history(b, account, SKUS[2], "P1M", [10, 4], start="2022-06-01", deactivated=True)


_WORDS_A = ("Acme", "Apex", "Blue", "Bright", "Cedar", "Delta", "Eagle", "Evergreen", "First", "Golden",
            "Harbor", "Iron", "Lake", "Maple", "North", "Oak", "Pacific", "Pioneer", "Quantum", "River",
            "Silver", "Summit", "Union", "Valley", "West", "Zenith")
_WORDS_B = ("Analytics", "Bakery", "Builders", "Capital", "Consulting", "Dental", "Designs", "Energy",
            "Foods", "Freight", "Health", "Holdings", "Labs", "Legal", "Logistics", "Media", "Motors",
            "Partners", "Pharma", "Realty", "Robotics", "Software", "Studios", "Systems", "Travel")
_SUFFIXES = ("Ltd", "Limited", "Inc", "Inc.", "LLC", "GmbH", "AB", "AS", "BV", "SA", "Co.", "")


def _scaled(book: _Book, ctx: _Context, scale: int) -> None:
    """``scale`` generated customers, with the same mix of cases as the demo book."""
    rng = book.rng
    b = _Builder(book, ctx)
    for index in range(scale):
        core = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)} {index}"
        suffix = rng.choice(_SUFFIXES)
        org = f"{core} {suffix}".strip()
        domain = f"{_slug(core)}{index}.example"
        roll = rng.random()
        has_crm = roll < 0.95
        crm_suffix = rng.choice(_SUFFIXES)
        account = b.account(f"{core} {crm_suffix}".strip(), f"https://www.{domain}" if rng.random() < 0.5 else None,
                            f"it@{domain}" if rng.random() < 0.5 else None, "USD") if has_crm else None
        demo = Demo(org, domain=domain, email=f"admin@{domain}")
        cid = b.ion_customer(demo)
        count = 1 + (rng.random() < 0.5) + (rng.random() < 0.2)
        subs = [b.ion_subscription(cid, org, rng.choice(SKUS), rng.randint(1, 80), rng.choice(("P1M", "P1M", "P1Y")))
                for _ in range(count)]
        if roll > 0.97:
            continue  # only in StreamOne
        mapped = account is not None and rng.random() < 0.6
        pa = b.provider_account(org, cid, account if mapped else None)
        if not mapped or account is None:
            continue
        for data in subs:
            b.synced(data, account, account["_contract"], pa, mismatch=1 if rng.random() < 0.03 else 0)
        if rng.random() < 0.25:
            sku = subs[0]["sku"]
            _manual_history(b, account, sku, subs[0]["term"], [max(1, subs[0]["quantity"] - 2), 3, -1],
                            start="2023-03-01")


def seed(store: Store, seed: int = 1, scale: int | None = None,
         connector_ids: tuple[str, str] = CONNECTOR_IDS) -> None:
    """Fill an empty store with the demo book (or ``scale`` generated customers); its provider
    accounts and subscriptions hold the ``connector_ids`` kinds of id (customer or tenant,
    Microsoft or Ion), as Work 365's connector would have written them."""
    if store.count("account"):
        raise ValueError("the sandbox database is not empty; reset it before seeding")
    parse_connector_ids(",".join(connector_ids))
    book = _Book(random.Random(seed))
    book.ids = connector_ids
    ctx = _reference_data(book)
    if scale is None:
        _demo(book, ctx)
    else:
        _scaled(book, ctx, scale)
    for rows in book.rows.values():
        for row in rows:
            row.pop("_contract", None)
    book.write(store)
    store.set_meta("seed", str(seed))
    store.set_meta("scale", "" if scale is None else str(scale))
    store.set_meta("connector_ids", ",".join(connector_ids))
    store.set_meta("ion_account_id", str(ION_ACCOUNT_ID))
    token = f"sbx-{uuid.UUID(int=book.rng.getrandbits(128)).hex}"
    store.set_meta("ion_refresh_token", token)
    with store.lock:
        store.conn.execute(
            "INSERT INTO ion_refresh_token (token, account_id, issued_at, expires_at, used) VALUES (?, ?, ?, ?, 0)",
            (token, ION_ACCOUNT_ID, 0.0, 4102444800.0),
        )

"""The emulated TD SYNNEX StreamOne Ion v3 API.

Refresh tokens are single use: each refresh returns a new one and kills the old. Customers have
no id field (the id is the last segment of ``name``) and page by cursor; the customer list
refuses a request with neither ``pageSize`` nor ``pageToken``. Subscriptions are listed
account-wide with offset paging, licence counts as strings and statuses in lowercase, as the
live API sends them.

A subscription has the keys and JSON types of the captured real responses
(``tests/fixtures/*.real.json``): every key always there, a string where the real API sends a
string and a number where it sends one, never null; only ``mfgPartNumber`` (Azure plans have
none), ``resellerPO`` and ``customerPO`` are left out when the subscription has none, as the
real API leaves them out. A column the stored row lacks (a row written by hand, or a database
built before the column existed) is sent as what the real API's value follows from (dates from
the start date, product and SKU ids from the offer id), else an empty string or 0.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from w365tui.sandbox.errors import IonError
from w365tui.sandbox.store import Store
from w365tui.sandbox.wire import Request, Response, json_response

ACCESS_TTL = 7200
REFRESH_TTL = 32 * 24 * 3600
MAX_PAGE_SIZE = 1000
MAX_LIMIT = 1000

_CUSTOMERS = re.compile(r"^/api/v3/accounts/(?P<account>[^/]+)/customers(?:/(?P<customer>[^/]+)(?P<rest>/.*)?)?$")
_SUBSCRIPTIONS = re.compile(r"^/api/v3/accounts/(?P<account>[^/]+)/subscriptions$")

ISV_ID = "20042"
PARTNER_NAME = "Sandbox Reseller"
# who the activity logs say acted: the reseller's StreamOne user
CCP_USER = {"ccpUserId": "700042", "ccpUserName": "Sandbox Reseller", "ccpUserEmail": "operator@sandbox-reseller.example"}
CANCELLATION_WINDOW = timedelta(days=15)  # the real data's cancellationAllowedUntilDate is 15 days on
FALLBACK_DATE = "1970-01-01T00:00:00Z"  # a row with no date at all
_TERM = re.compile(r"^P([0-9]{1,3})([MY])$")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> int | float:
    """A JSON number as the real API writes it: whole amounts without a fraction (``0``)."""
    number = float(value or 0)
    return int(number) if number.is_integer() else number


def _shift(stamp: str, *, by: timedelta = timedelta(), months: int = 0) -> str:
    """``stamp`` moved on, written as it was (with or without milliseconds)."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if months:
            year, month = divmod(moment.month - 1 + months, 12)
            year, month = moment.year + year, month + 1
            moment = moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))
        moment += by
    except (ValueError, OverflowError):  # not a date, or past year 9999
        return stamp
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{moment.microsecond // 1000:03d}Z" if "." in stamp else "Z")


def _term_months(term: str | None) -> int:
    match = _TERM.match((term or "").upper())
    if not match:
        return 1
    return int(match.group(1)) * (12 if match.group(2) == "Y" else 1)


def _offer_ids(offer: str | None, part_number: str | None) -> tuple[str, str, str, str]:
    """(subscriptionProductId, subscriptionSkuId, the activity logs' productId and skuId).

    The real data: a legacy offer ``NL,CFQ7TTC0LH18,0001`` gives ``NL`` and ``CFQ7TTC0LH18``,
    its logs product ``CFQ7TTC0LH18`` and SKU ``0001``; a new-commerce offer
    ``CFQ7TTC0LFLZ:0002:CFQ7TTC0RN98`` gives ``CFQ7TTC0LFLZ`` and ``0002`` for both.
    """
    text = offer or ""
    if "," in text:
        parts = [*text.split(","), "", "", ""]
        return parts[0], parts[1], parts[1], parts[2]
    if ":" in text:
        parts = [*text.split(":"), ""]
        return parts[0], parts[1], parts[0], parts[1]
    parts = [*(part_number or "").split(":"), ""]
    return parts[0], parts[1], parts[0], parts[1]


_NATURAL = re.compile(r"[0-9]{1,18}")  # ASCII digits only, within SQLite's 64-bit integers


def _natural(text: str | None) -> int | None:
    """``text`` as a whole number of at most 18 ASCII digits, else None: ``str.isdigit`` would
    pass ``²`` or ``٣`` (which ``int`` refuses or reads) and SQLite overflows past 2**63."""
    return int(text) if text is not None and _NATURAL.fullmatch(text) else None


def _token_error(message: str) -> IonError:
    return IonError(400, "invalid_grant", message)


def _cursor(last_id: int, size: int) -> str:
    return base64.urlsafe_b64encode(f"c:{last_id}:{size}".encode()).decode().rstrip("=")


def _uncursor(token: str) -> tuple[int, int]:
    """(last id seen, page size) from a page token; the size carries over to the next page."""
    try:
        raw = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode()
        prefix, last_text, size_text = raw.split(":")
        last, size = _natural(last_text), _natural(size_text)
        if prefix != "c" or last is None or size is None or size < 1:
            raise ValueError
        return last, size
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise IonError(400, "INVALID_ARGUMENT", "pageToken is not valid") from None


class IonService:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock

    # -- tokens -----------------------------------------------------------------------------
    def mint_refresh_token(self, account_id: int, token: str | None = None, issued_at: float | None = None) -> str:
        """Issue a refresh token, as generating one in the StreamOne portal does."""
        token = token or secrets.token_urlsafe(32)
        now = self.clock() if issued_at is None else issued_at
        with self.store.lock:
            self.store.conn.execute(
                "INSERT INTO ion_refresh_token (token, account_id, issued_at, expires_at, used) VALUES (?, ?, ?, ?, 0)",
                (token, account_id, now, now + REFRESH_TTL),
            )
        return token

    def account_id(self) -> int:
        return int(self.store.meta("ion_account_id", "0") or 0)

    def handle(self, request: Request) -> Response:
        try:
            return self._route(request)
        except IonError as error:
            headers = list(error.headers.items())
            if error.error == "invalid_grant" or request.path.startswith("/oauth/"):
                return json_response(error.status, {"error": error.message}, headers)
            return json_response(error.status, error.body(), headers)

    def _route(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == "/oauth/token":
            return self._token(request)
        if path == "/oauth/validateAccess":
            return self._validate(request)
        match = _SUBSCRIPTIONS.match(path)
        if match:
            account = self._authorise(request, match.group("account"))
            self._require_get(request)
            return self._subscriptions(request, account)
        match = _CUSTOMERS.match(path)
        if match:
            account = self._authorise(request, match.group("account"))
            self._require_get(request)
            customer, rest = match.group("customer"), match.group("rest")
            if customer is None:
                return self._customers(request, account)
            row = self._customer_row(account, customer)
            if rest is None:
                return json_response(200, self._customer_json(row))
            if rest == "/cloudProfiles":
                return json_response(200, self._cloud_profiles(row))
            sub = re.fullmatch(r"/subscriptions/([^/]+)", rest)
            if sub:
                return json_response(200, self._subscription_detail(row, sub.group(1)))
        raise IonError(404, "NOT_FOUND", f"no resource at {request.path}")

    @staticmethod
    def _require_get(request: Request) -> None:
        if request.method != "GET":
            raise IonError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.path}")

    @staticmethod
    def _form(request: Request) -> dict[str, str]:
        content_type = (request.header("content-type") or "").lower()
        if "application/x-www-form-urlencoded" not in content_type:
            raise _token_error("the body must be application/x-www-form-urlencoded")
        try:
            return dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise _token_error("the body is not UTF-8") from None

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            raise _token_error("use POST")
        form = self._form(request)
        if form.get("grant_type") != "refresh_token":
            raise _token_error("unsupported grant_type; only refresh_token is accepted")
        token = form.get("refresh_token", "")
        now = self.clock()
        with self.store.transaction():
            row = self.store.conn.execute(
                "SELECT account_id, expires_at, used FROM ion_refresh_token WHERE token = ?", (token,)
            ).fetchone()
            if row is None:
                raise _token_error("invalid refresh token")
            if row["used"]:
                raise _token_error("refresh token has already been used")
            if row["expires_at"] <= now:
                raise _token_error("refresh token has expired")
            self.store.conn.execute("UPDATE ion_refresh_token SET used = 1 WHERE token = ?", (token,))
            access = secrets.token_urlsafe(32)
            self.store.conn.execute(
                "INSERT INTO ion_access_token (token, account_id, expires_at) VALUES (?, ?, ?)",
                (access, row["account_id"], now + ACCESS_TTL),
            )
            refresh = self.mint_refresh_token(row["account_id"])
        return json_response(
            200,
            {"access_token": access, "expires_in": ACCESS_TTL, "refresh_token": refresh, "token_type": "Bearer"},
        )

    def _validate(self, request: Request) -> Response:
        if request.method != "POST":
            raise _token_error("use POST")
        form = self._form(request)
        now = self.clock()
        row = self.store.conn.execute(
            "SELECT account_id, expires_at FROM ion_access_token WHERE token = ?", (form.get("access_token", ""),)
        ).fetchone()
        if row is None or row["expires_at"] <= now:
            raise _token_error("access token is invalid or expired")
        refresh = self.store.conn.execute(
            "SELECT MAX(expires_at) FROM ion_refresh_token WHERE account_id = ? AND used = 0", (row["account_id"],)
        ).fetchone()[0]
        return json_response(
            200,
            {
                "access_expires_in": int(row["expires_at"] - now),
                "refresh_expires_in": int((refresh or now) - now),
            },
        )

    def _authorise(self, request: Request, account: str) -> int:
        header = request.header("authorization") or ""
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        row = self.store.conn.execute(
            "SELECT account_id, expires_at FROM ion_access_token WHERE token = ?", (token,)
        ).fetchone()
        if row is None or row["expires_at"] <= self.clock():
            raise IonError(403, "PERMISSION_DENIED", "The caller does not have permission")
        number = _natural(account)
        if number is None or number != row["account_id"]:
            raise IonError(403, "PERMISSION_DENIED", "The caller does not have permission")
        return number

    # -- customers --------------------------------------------------------------------------
    def _customers(self, request: Request, account: int) -> Response:
        params = dict(request.query_pairs())
        size_text, token = params.get("pageSize"), params.get("pageToken")
        if not size_text and not token:
            raise IonError(400, "INVALID_ARGUMENT", "either pageSize or pageToken must be provided")
        after, size = _uncursor(token) if token else (-1, 100)
        if size_text:
            asked = _natural(size_text)
            if asked is None or asked < 1:
                raise IonError(400, "INVALID_ARGUMENT", f"pageSize must be a positive integer, not {size_text!r}")
            size = min(asked, MAX_PAGE_SIZE)
        rows = self.store.conn.execute(
            "SELECT * FROM ion_customer WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?",
            (account, after, size + 1),
        ).fetchall()
        more = len(rows) > size
        rows = rows[:size]
        return json_response(
            200,
            {
                "customers": [self._customer_json(r) for r in rows],
                "nextPageToken": _cursor(rows[-1]["id"], size) if more and rows else "",
            },
        )

    def _customer_row(self, account: int, customer: str) -> Any:
        row, number = None, _natural(customer)
        if number is not None:
            row = self.store.conn.execute(
                "SELECT * FROM ion_customer WHERE account_id = ? AND id = ?", (account, number)
            ).fetchone()
        if row is None:
            raise IonError(404, "NOT_FOUND", f"customer {customer} not found")
        return row

    @staticmethod
    def _customer_json(row: Any) -> dict[str, Any]:
        return {
            "name": f"accounts/{row['account_id']}/customers/{row['id']}",
            "customerOrganization": row["organization"],
            "customerName": row["contact_name"],
            "customerEmail": row["email"],
            "customerPhone": row["phone"],
            "customerAddress": {
                "street": row["street"],
                "city": row["city"],
                "state": row["state"],
                "zip": row["zip"],
                "country": row["country"],
            },
            "customerStatus": row["status"],
            "createTime": row["create_time"],
            "updateTime": row["update_time"],
        }

    def _cloud_profiles(self, customer: Any) -> dict[str, Any]:
        rows = self.store.conn.execute(
            "SELECT * FROM ion_cloud_profile WHERE customer_id = ? ORDER BY position", (customer["id"],)
        ).fetchall()
        return {
            "customerId": str(customer["id"]),
            "customerOrganization": customer["organization"],
            "customerCloudProfiles": [
                {
                    "providerId": r["provider_id"],
                    "displayName": r["display_name"],
                    "shortName": r["short_name"],
                    "enabled": bool(r["enabled"]),
                    "customerTenantId": r["tenant_id"],
                    "customerDomain": r["domain"],
                }
                for r in rows
            ],
        }

    # -- subscriptions ----------------------------------------------------------------------
    def _subscriptions(self, request: Request, account: int) -> Response:
        params = dict(request.query_pairs())
        limit = self._int_param(params, "pagination.limit", 100, 1, MAX_LIMIT)
        offset = self._int_param(params, "pagination.offset", 0, 0, None)
        where = ["c.account_id = ?"]
        values: list[Any] = [account]
        if params.get("customerId"):
            customer = _natural(params["customerId"])
            if customer is None:
                raise IonError(400, "INVALID_ARGUMENT", f"customerId must be numeric, not {params['customerId']!r}")
            where.append("s.customer_id = ?")
            values.append(customer)
        condition = " AND ".join(where)
        total = self.store.conn.execute(
            f"SELECT COUNT(*) FROM ion_subscription s JOIN ion_customer c ON c.id = s.customer_id WHERE {condition}",
            values,
        ).fetchone()[0]
        rows = self.store.conn.execute(
            f"SELECT s.*, c.organization AS customer_organization, c.account_id AS account_id "
            f"FROM ion_subscription s JOIN ion_customer c ON c.id = s.customer_id WHERE {condition} "
            "ORDER BY s.id LIMIT ? OFFSET ?",
            (*values, limit, offset),
        ).fetchall()
        return json_response(
            200,
            {"items": [self._subscription_json(r) for r in rows], "paginationResponse": {"totalSize": total}},
        )

    @staticmethod
    def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
        text = params.get(name)
        if text is None or text == "":
            return default
        value = _natural(text)
        if value is None or value < low:
            raise IonError(400, "INVALID_ARGUMENT", f"{name} must be an integer of at least {low}, not {text!r}")
        return min(value, high) if high is not None else value

    def _subscription_detail(self, customer: Any, sub_id: str) -> dict[str, Any]:
        row, number = None, _natural(sub_id)
        if number is not None:
            row = self.store.conn.execute(
                "SELECT s.*, ? AS customer_organization, ? AS account_id FROM ion_subscription s "
                "WHERE s.id = ? AND s.customer_id = ?",
                (customer["organization"], customer["account_id"], number, customer["id"]),
            ).fetchone()
        if row is None:
            raise IonError(404, "NOT_FOUND", f"subscription {sub_id} not found")
        item = self._subscription_json(row)
        values = dict(row)
        _, _, product, sku = _offer_ids(values.get("offer_id"), values.get("mfg_part_number"))
        logs = {
            "totalCount": "1",
            "items": [
                {
                    "id": f"{row['id']:08d}-0000-4000-8000-000000000000",
                    "actionType": "Subscription Created",
                    "actionDate": item["subscriptionPurchasedDate"],
                    "actionStatus": "succeeded",
                    "productId": product,
                    "skuId": sku,
                    "actionDetails": f"Offer Name: {item['ccpProductInfo']['skuDisplayName']}; "
                                     f"Quantity: {item['subscriptionTotalLicenses']}; ",
                    **CCP_USER,
                }
            ],
        }
        detail: dict[str, Any] = {}
        for key, value in item.items():  # the logs sit where the real API puts them
            detail[key] = value
            if key == "subscriptionRenewStatus":
                detail["activityLogs"] = logs
        return detail

    @staticmethod
    def _subscription_json(row: Any) -> dict[str, Any]:
        values = dict(row)  # .get: a database built before a column existed lacks it

        def text(column: str) -> str:
            return _text(values.get(column))

        start = values.get("start_date") or values.get("last_updated") or FALLBACK_DATE
        end = values.get("end_date") or _shift(start, months=_term_months(values.get("billing_term")))
        price, cost = _number(values.get("price")), _number(values.get("cost"))
        licences = text("total_licenses")
        quantity = _natural(licences) or 0
        product_id, sku_id, _, _ = _offer_ids(values.get("offer_id"), values.get("mfg_part_number"))
        sku_name = values.get("sku_display_name") or text("name")
        item: dict[str, Any] = {
            "id": str(values["id"]),
            "customerId": str(values["customer_id"]),
            "resellerId": text("account_id"),
            "isvId": ISV_ID,
            "cloudProviderId": "30",
            "subscriptionId": text("subscription_id"),
            "subscriptionName": values.get("name") or sku_name,
            "resourceType": "AZURE::Subscription",
            "ccpProductId": text("product_id"),
            "ccpSkuId": text("sku_id"),
            "ccpPlanId": text("plan_id"),
            "subscriptionProductId": product_id,
            "subscriptionSkuId": sku_id,
            "subscriptionOfferId": text("offer_id"),
            "subscriptionTotalLicenses": licences or "0",
            "unitType": "Licenses",
            "subscriptionStatus": text("status"),
            "subscriptionPurchasedDate": start,
            "subscriptionStartDate": start,
            "subscriptionEndDate": end,
            "cancellationAllowedUntilDate": _shift(start, by=CANCELLATION_WINDOW),
            "subscriptionBillingType": "license",
            "subscriptionBillingCycle": text("billing_cycle"),
            "subscriptionBillingTerm": text("billing_term"),
            "subscriptionRenewStatus": "ENABLED" if values.get("auto_renew") else "DISABLED",
        }
        for key, column in (("resellerPO", "reseller_po"), ("customerPO", "customer_po")):
            if values.get(column):  # the real API leaves a missing PO number out
                item[key] = values[column]
        item.update({
            "ccpProductInfo": {
                "productId": text("product_id"),
                "productDisplayName": text("product_display_name"),
                "skuId": text("sku_id"),
                "skuDisplayName": sku_name,
                "planId": text("plan_id"),
                "planDisplayName": values.get("plan_display_name") or sku_name,
            },
            "isTrial": False,
            "autoRenew": bool(values.get("auto_renew")),
            "customerName": text("customer_organization"),
            "partnerName": PARTNER_NAME,
            "lastUpdatedDate": values.get("last_updated") or start,
            "price": price,
            "cost": cost,
            "currency": text("currency"),
            "margin": _number(round(price - cost, 6)),
            "total": _number(round(price * quantity, 6)),
            "msrp": price,
            "renewalDate": values.get("renewal_date") or end,
        })
        if values.get("mfg_part_number"):  # absent, not null, where there is none (Azure plans)
            item["mfgPartNumber"] = values["mfg_part_number"]
        return item

"""The emulated TD SYNNEX StreamOne Ion v3 API.

Refresh tokens are single use: each refresh returns a new one and kills the old. Customers have
no id field (the id is the last segment of ``name``) and page by cursor; the customer list
refuses a request with neither ``pageSize`` nor ``pageToken``. Subscriptions are listed
account-wide with offset paging, licence counts as strings and statuses in lowercase, as the
live API sends them.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Callable
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


def _token_error(message: str) -> IonError:
    return IonError(400, "invalid_grant", message)


def _cursor(last_id: int, size: int) -> str:
    return base64.urlsafe_b64encode(f"c:{last_id}:{size}".encode()).decode().rstrip("=")


def _uncursor(token: str) -> tuple[int, int]:
    """(last id seen, page size) from a page token; the size carries over to the next page."""
    try:
        raw = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode()
        prefix, last, size = raw.split(":")
        if prefix != "c" or int(size) < 1:
            raise ValueError
        return int(last), int(size)
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
        if not account.isdigit() or int(account) != row["account_id"]:
            raise IonError(403, "PERMISSION_DENIED", "The caller does not have permission")
        return int(account)

    # -- customers --------------------------------------------------------------------------
    def _customers(self, request: Request, account: int) -> Response:
        params = dict(request.query_pairs())
        size_text, token = params.get("pageSize"), params.get("pageToken")
        if not size_text and not token:
            raise IonError(400, "INVALID_ARGUMENT", "either pageSize or pageToken must be provided")
        after, size = _uncursor(token) if token else (-1, 100)
        if size_text:
            if not size_text.isdigit() or int(size_text) < 1:
                raise IonError(400, "INVALID_ARGUMENT", f"pageSize must be a positive integer, not {size_text!r}")
            size = min(int(size_text), MAX_PAGE_SIZE)
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
        row = None
        if customer.isdigit():
            row = self.store.conn.execute(
                "SELECT * FROM ion_customer WHERE account_id = ? AND id = ?", (account, int(customer))
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
            if not params["customerId"].isdigit():
                raise IonError(400, "INVALID_ARGUMENT", f"customerId must be numeric, not {params['customerId']!r}")
            where.append("s.customer_id = ?")
            values.append(int(params["customerId"]))
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
        if not text.isdigit() or int(text) < low:
            raise IonError(400, "INVALID_ARGUMENT", f"{name} must be an integer of at least {low}, not {text!r}")
        value = int(text)
        return min(value, high) if high is not None else value

    def _subscription_detail(self, customer: Any, sub_id: str) -> dict[str, Any]:
        row = None
        if sub_id.isdigit():
            row = self.store.conn.execute(
                "SELECT s.*, ? AS customer_organization, ? AS account_id FROM ion_subscription s "
                "WHERE s.id = ? AND s.customer_id = ?",
                (customer["organization"], customer["account_id"], int(sub_id), customer["id"]),
            ).fetchone()
        if row is None:
            raise IonError(404, "NOT_FOUND", f"subscription {sub_id} not found")
        detail = self._subscription_json(row)
        detail["activityLogs"] = {
            "totalCount": "1",
            "items": [
                {
                    "id": f"{row['id']:08d}-0000-4000-8000-000000000000",
                    "actionType": "Subscription Created",
                    "actionDate": row["start_date"],
                    "actionStatus": "succeeded",
                    "productId": (row["mfg_part_number"] or "").split(":")[0] or None,
                    "skuId": None,
                    "actionDetails": f"Offer Name: {row['sku_display_name']}; Quantity: {row['total_licenses']}; ",
                }
            ],
        }
        return detail

    @staticmethod
    def _subscription_json(row: Any) -> dict[str, Any]:
        price = row["price"]
        quantity = int(row["total_licenses"]) if (row["total_licenses"] or "").isdigit() else 0
        item: dict[str, Any] = {
            "id": str(row["id"]),
            "customerId": str(row["customer_id"]),
            "resellerId": str(row["account_id"]),
            "cloudProviderId": "30",
            "subscriptionId": row["subscription_id"],
            "subscriptionName": row["name"],
            "resourceType": "AZURE::Subscription",
            "ccpProductId": row["product_id"],
            "ccpSkuId": row["sku_id"],
            "ccpPlanId": row["plan_id"],
            "subscriptionOfferId": row["offer_id"],
            "subscriptionTotalLicenses": row["total_licenses"],
            "unitType": "Licenses",
            "subscriptionStatus": row["status"],
            "subscriptionPurchasedDate": row["start_date"],
            "subscriptionStartDate": row["start_date"],
            "subscriptionEndDate": row["end_date"],
            "subscriptionBillingType": "license",
            "subscriptionBillingCycle": row["billing_cycle"],
            "subscriptionBillingTerm": row["billing_term"],
            "subscriptionRenewStatus": "ENABLED" if row["auto_renew"] else "DISABLED",
            "ccpProductInfo": {
                "productId": row["product_id"],
                "productDisplayName": row["product_display_name"],
                "skuId": row["sku_id"],
                "skuDisplayName": row["sku_display_name"],
                "planId": row["plan_id"],
                "planDisplayName": row["sku_display_name"],
            },
            "isTrial": False,
            "autoRenew": bool(row["auto_renew"]),
            "customerName": row["customer_organization"],
            "partnerName": "Sandbox Reseller",
            "lastUpdatedDate": row["last_updated"],
            "price": price,
            "cost": row["cost"],
            "currency": row["currency"],
            "margin": round((price or 0) - (row["cost"] or 0), 6),
            "total": round((price or 0) * quantity, 6),
            "msrp": price,
            "renewalDate": row["renewal_date"],
        }
        if row["mfg_part_number"]:
            item["mfgPartNumber"] = row["mfg_part_number"]
        return item

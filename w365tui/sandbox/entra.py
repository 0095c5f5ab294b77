"""Emulated Microsoft Entra ID v2 endpoints: device code, client credentials and refresh.

Errors follow RFC 8628 and Entra: ``authorization_pending`` until the user approves,
``slow_down`` (and 5 s more on the interval) for a poll that comes too soon,
``access_denied``, ``expired_token``; refresh tokens rotate and a used one is ``invalid_grant``.
Approval happens at ``POST /_sandbox/entra/approve`` with the user code, standing in for a person
at the verification page.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from w365tui.sandbox.wire import Request, Response, json_response

SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/(?P<endpoint>devicecode|token)$")


@dataclass
class _Pending:
    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    interval: float
    last_poll: float | None = None
    state: str = "pending"  # pending, approved, denied, used


def is_entra_path(path: str) -> bool:
    return bool(_PATH.match(path))


class EntraService:
    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._codes: dict[str, _Pending] = {}
        self._refresh: dict[str, tuple[str, str]] = {}  # refresh token → (client id, scope)
        self._lock = threading.Lock()

    def approve(self, user_code: str, deny: bool = False) -> bool:
        with self._lock:
            for pending in self._codes.values():
                if pending.user_code == user_code and pending.state == "pending":
                    pending.state = "denied" if deny else "approved"
                    return True
        return False

    def handle(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        if not match or request.method != "POST":
            return _error(404, "invalid_request", "AADSTS90002: the endpoint does not exist here.")
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        if not form.get("client_id"):
            return _error(400, "invalid_request",
                          "AADSTS900144: The request body must contain the following parameter: 'client_id'.")
        if match.group("endpoint") == "devicecode":
            return self._device_code(form)
        grant = form.get("grant_type")
        if grant == DEVICE_CODE_GRANT:
            return self._poll(form)
        if grant == "client_credentials":
            if form.get("client_secret") != SANDBOX_CLIENT_SECRET:
                return _error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
            return self._tokens(form["client_id"], form.get("scope", ""), refresh=False)
        if grant == "refresh_token":
            with self._lock:
                owner = self._refresh.pop(form.get("refresh_token", ""), None)
            if owner is None or owner[0] != form["client_id"]:
                return _error(400, "invalid_grant", "AADSTS70000: The refresh token has expired or was already used.")
            return self._tokens(owner[0], owner[1], refresh=True)
        return _error(400, "unsupported_grant_type", f"AADSTS70003: The grant type '{grant}' is not supported.")

    def _device_code(self, form: dict[str, str]) -> Response:
        device_code = secrets.token_urlsafe(24)
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        pending = _Pending(device_code, user_code, form["client_id"], form.get("scope", ""), self.clock() + 900, 5.0)
        with self._lock:
            self._codes[device_code] = pending
        return json_response(200, {
            "device_code": device_code, "user_code": user_code,
            "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 5,
            "message": f"To sign in, use a web browser to open the page https://microsoft.com/devicelogin "
                       f"and enter the code {user_code} to authenticate.",
        })

    def _poll(self, form: dict[str, str]) -> Response:
        now = self.clock()
        with self._lock:
            pending = self._codes.get(form.get("device_code", ""))
            if pending is None or pending.client_id != form["client_id"] or pending.state == "used":
                return _error(400, "invalid_grant", "AADSTS70000: The provided device code is not valid.")
            if now >= pending.expires_at:
                return _error(400, "expired_token", "AADSTS70020: The provided value for the input parameter "
                                                    "'device_code' is not valid. This device code has expired.")
            too_soon = pending.last_poll is not None and now - pending.last_poll < pending.interval
            pending.last_poll = now
            if pending.state == "denied":
                return _error(400, "access_denied", "AADSTS70004: The user declined to sign in.")
            if too_soon:
                pending.interval += 5
                return _error(400, "slow_down", "AADSTS70021: Polling too fast; slow down.")
            if pending.state == "pending":
                return _error(400, "authorization_pending",
                              "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.")
            pending.state = "used"
        return self._tokens(pending.client_id, pending.scope, refresh=True)

    def _tokens(self, client_id: str, scope: str, refresh: bool) -> Response:
        payload = {"token_type": "Bearer", "scope": scope, "expires_in": 3600, "ext_expires_in": 3600,
                   "access_token": "sbx." + secrets.token_urlsafe(32)}
        if refresh:
            token = "sbxr." + secrets.token_urlsafe(32)
            with self._lock:
                self._refresh[token] = (client_id, scope)
            payload["refresh_token"] = token
        return json_response(200, payload)


def _error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description, "error_codes": [],
                                  "timestamp": "", "trace_id": "", "correlation_id": ""})

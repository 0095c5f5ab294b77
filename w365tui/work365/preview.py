"""A read-only look at the sandbox's provider accounts, for the first screen.

Provisional: it uses the sandbox's own table and column names. Against a real Work 365 these
come from schema discovery, which replaces this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class ProviderAccountRow:
    name: str
    provider_specific_id: str
    provider: str
    account: str | None


async def sandbox_provider_accounts(client: httpx.AsyncClient, page_size: int = 500) -> list[ProviderAccountRow]:
    """Every provider account with its provider and mapped CRM account, following nextLink."""
    url: str | None = "work365_provideraccounts"
    params: dict[str, str] | None = {
        "$select": "work365_provideraccount_name,work365_providerspecificaccountid",
        "$expand": "work365_Provider($select=work365_name),work365_Account($select=name)",
        "$orderby": "work365_provideraccount_name",
    }
    rows: list[ProviderAccountRow] = []
    headers = {"Prefer": f"odata.maxpagesize={page_size}", "Accept": "application/json",
               "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
    while url:
        response = await client.get(url, params=params, headers=headers)
        response.raise_for_status()
        payload = response.json()
        for item in payload["value"]:
            provider = item.get("work365_Provider") or {}
            account = item.get("work365_Account") or {}
            rows.append(ProviderAccountRow(
                name=item.get("work365_provideraccount_name") or "",
                provider_specific_id=item.get("work365_providerspecificaccountid") or "",
                provider=provider.get("work365_name") or "",
                account=account.get("name"),
            ))
        url, params = payload.get("@odata.nextLink"), None
    return rows

"""The Dataverse client: query building, paging, batches and metadata, against the sandbox."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from w365tui.clients.http import NetworkError
from w365tui.clients.odata import (
    DataverseClient,
    Expand,
    Operation,
    Query,
    contains,
    decode_batch_response,
    encode_batch,
    eq,
    identifier,
    literal,
    lookup_value,
)
from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.schema import BY_LOGICAL
from w365tui.sandbox.store import fold

pytestmark = pytest.mark.anyio


def test_literals_escape_quotes_and_keep_guids_bare() -> None:
    assert literal("O'Brien") == "'O''Brien'"
    assert literal("x') or (1 eq 1") == "'x'') or (1 eq 1'"
    assert literal(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert literal(None) == "null" and literal(True) == "true" and literal(3) == "3"
    assert literal(1.5) == "1.5"
    for bad in (float("nan"), float("inf"), Decimal("-Infinity")):
        with pytest.raises(ValueError):
            literal(bad)
    with pytest.raises(TypeError):
        literal(object())


@pytest.mark.parametrize("bad", ["name eq 'x'", "name)", "", "1abc", "na-me", "name/x", "name;drop"])
def test_identifiers_are_validated(bad: str) -> None:
    with pytest.raises(ValueError):
        identifier(bad)
    with pytest.raises(ValueError):
        Query("accounts", select=[bad]).params()


def test_query_params() -> None:
    params = Query(
        "work365_subscriptions",
        select=["work365_subscriptionname"],
        filter=eq(lookup_value("work365_billingcontract"), uuid.UUID(int=5)) & ~contains("work365_subscriptionname", "a'b"),
        orderby=["work365_subscriptionname desc"],
        top=10,
        expand=[Expand("work365_subscription_licensechangelogs", select=["work365_quantity"])],
        count=True,
    ).params()
    assert params == {
        "$select": "work365_subscriptionname",
        "$filter": "(_work365_billingcontract_value eq 00000000-0000-0000-0000-000000000005) and "
                   "(not (contains(work365_subscriptionname,'a''b')))",
        "$orderby": "work365_subscriptionname desc",
        "$top": "10",
        "$expand": "work365_subscription_licensechangelogs($select=work365_quantity)",
        "$count": "true",
    }


NAMES = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=40)


@pytest.fixture(scope="module")
def shared_sandbox():
    with Sandbox.in_memory(seed=None) as running:
        yield running


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(NAMES, min_size=1, max_size=6), probe=NAMES, pick=st.booleans())
def test_a_name_filter_matches_exactly_the_rows_with_that_name(shared_sandbox: Sandbox, names: list[str],
                                                              probe: str, pick: bool) -> None:
    """For any text s, ``name eq s`` finds exactly the rows named s (compared as Dataverse compares
    strings, without regard to case) — quotes, parentheses, ``or 1 eq 1`` and unicode included."""
    import asyncio

    store = shared_sandbox.store
    task = BY_LOGICAL["task"]
    target = names[0] if pick else probe
    store.conn.execute("DELETE FROM task")
    ids = {}
    for name in names + ["x' or 1 eq 1 or subject eq 'x", "(", "'"]:
        row = store.insert(task, {"activityid": str(uuid.uuid4()), "subject": name, "statecode": 0, "statuscode": 2})
        ids[row["activityid"]] = name

    async def query() -> set[str]:
        async with DataverseClient(shared_sandbox.dataverse_url) as dv:
            rows = await dv.rows(Query("tasks", select=["subject"], filter=eq("subject", target)))
        return {r["activityid"] for r in rows}

    found = asyncio.run(query())
    assert found == {i for i, name in ids.items() if fold(name) == fold(target)}


async def test_pages_follow_next_link(sandbox: Sandbox) -> None:
    async with DataverseClient(sandbox.dataverse_url) as dv:
        pages = [page async for page in dv.pages(Query("work365_licensechangelogs", select=["work365_name"], count=True),
                                                 page_size=7)]
    ids = [r["work365_licensechangelogid"] for p in pages for r in p.rows]
    assert len(ids) == len(set(ids)) == sandbox.store.count("work365_licensechangelog")
    assert all(len(p.rows) <= 7 for p in pages)
    assert pages[0].count == len(ids)


async def test_a_changeset_of_1000_operations_commits_whole(sandbox: Sandbox) -> None:
    before = sandbox.store.count("account")
    operations = [Operation("POST", "accounts", {"name": f"Bulk {i}"}) for i in range(1000)]
    async with DataverseClient(sandbox.dataverse_url) as dv:
        (results,) = await dv.batch([operations])
        with pytest.raises(ValueError, match="at most 1000"):
            await dv.batch([operations, [Operation("POST", "accounts", {"name": "one more"})]])
    assert isinstance(results, list) and len(results) == 1000 and all(r.status == 204 for r in results)
    assert sandbox.store.count("account") == before + 1000


async def test_a_failing_changeset_leaves_no_trace_and_names_the_failing_part(sandbox: Sandbox) -> None:
    before = sandbox.store.count("account")
    operations = [Operation("POST", "accounts", {"name": f"Good {i}"}, content_id=str(i + 1)) for i in range(2)]
    operations.append(Operation("POST", "accounts", {"bogus": True}, content_id="3"))
    async with DataverseClient(sandbox.dataverse_url) as dv:
        (failed,) = await dv.batch([operations])
    assert not isinstance(failed, list) and failed.status == 400 and failed.content_id == "3"
    assert failed.error()[0] == "0x80048d19"
    assert sandbox.store.count("account") == before


async def test_a_changeset_whose_answer_is_lost_is_not_resent(sandbox: Sandbox) -> None:
    sandbox.faults.add("drop_after", path=r"\$batch$", times=1)
    operations = [Operation("POST", "accounts", {"name": "Sent once"}) for _ in range(2)]
    async with DataverseClient(sandbox.dataverse_url) as dv:
        with pytest.raises(NetworkError) as lost:
            await dv.batch([operations])
    assert lost.value.maybe_committed
    written = sandbox.store.conn.execute("SELECT COUNT(*) FROM account WHERE name = 'Sent once'").fetchone()[0]
    assert written == 2  # committed once by the service, never sent again


async def test_content_id_references_work_within_a_changeset(sandbox: Sandbox) -> None:
    operations = [
        Operation("POST", "accounts", {"name": "Parent"}, content_id="1"),
        Operation("POST", "contacts", {"fullname": "Child", "parentcustomerid_account@odata.bind": "$1"}, content_id="2"),
        Operation("PATCH", "$1", {"primarycontactid@odata.bind": "$2"}, content_id="3"),
    ]
    async with DataverseClient(sandbox.dataverse_url) as dv:
        (results,) = await dv.batch([operations])
        assert isinstance(results, list)
        account_id = results[0].header("OData-EntityId").rsplit("(", 1)[1].rstrip(")")
        account = await dv.get("accounts", account_id, ["_primarycontactid_value"])
    assert account["_primarycontactid_value"] == results[1].header("OData-EntityId").rsplit("(", 1)[1].rstrip(")")


async def test_a_create_only_upsert_refuses_a_row_that_is_there(sandbox: Sandbox) -> None:
    row = "5ca1ab1e-0000-4000-8000-000000000001"
    create = Operation("PATCH", f"accounts({row})", {"name": "Once"}, headers={"If-None-Match": "*"})
    async with DataverseClient(sandbox.dataverse_url) as dv:
        (first,) = await dv.batch([[create]])
        (second,) = await dv.batch([[create]])
    assert isinstance(first, list) and first[0].status == 204
    assert not isinstance(second, list) and second.status == 412
    assert sandbox.store.conn.execute("SELECT COUNT(*) FROM account WHERE name = 'Once'").fetchone()[0] == 1


def test_batch_encoding_round_trips_through_the_parser() -> None:
    content_type, body = encode_batch([Operation("GET", "WhoAmI"), [Operation("POST", "accounts", {"name": "x"})]],
                                      "http://h/api/data/v9.2/", boundary="batch_t")
    assert content_type == "multipart/mixed; boundary=batch_t"
    text = body.decode()
    assert text.endswith("--batch_t--\r\n") and "\r\n" in text
    assert "POST http://h/api/data/v9.2/accounts HTTP/1.1" in text
    response = ("--r\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\": 1}\r\n"
                "--r\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
                "--c\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
                "HTTP/1.1 204 No Content\r\nOData-EntityId: http://h/accounts(1)\r\n\r\n\r\n--c--\r\n--r--\r\n")
    single, changeset = decode_batch_response("multipart/mixed; boundary=r", response.encode())
    assert single.status == 200 and single.json() == {"a": 1}
    assert [(r.status, r.content_id, r.header("odata-entityid")) for r in changeset] == [(204, "1", "http://h/accounts(1)")]
    with pytest.raises(ValueError):
        decode_batch_response("multipart/mixed; boundary=r", b"--r\r\nno end")


async def test_metadata_reader(sandbox: Sandbox) -> None:
    async with DataverseClient(sandbox.dataverse_url) as dv:
        meta = await dv.entity_metadata("work365_subscription")
    assert meta.entity_set == "work365_subscriptions"
    assert meta.navigation["work365_billingcontract"] == "work365_BillingContract"
    assert meta.targets["work365_provider"] == ["work365_provider"]
    assert meta.attributes["work365_quantity"] == "Integer"
    assert meta.options["statuscode"] == {1: "Active", 2: "Suspended"}
    assert meta.status_state == {1: 0, 2: 1}
    assert meta.collections[("work365_licensechangelog", "work365_subscription")] == "work365_subscription_licensechangelogs"


async def test_continue_on_error_reports_each_part(sandbox: Sandbox) -> None:
    parts = [Operation("POST", "accounts", {"bogus": 1}), Operation("POST", "accounts", {"name": "Kept"})]
    async with DataverseClient(sandbox.dataverse_url) as dv:
        stopped = await dv.batch(parts)
        assert [r.status for r in stopped] == [400]
        carried_on = await dv.batch(parts, continue_on_error=True)
    assert [r.status for r in carried_on] == [400, 204]
    assert carried_on[0].error()[0] == "0x80048d19"
    assert sandbox.store.conn.execute("SELECT COUNT(*) FROM account WHERE name = 'Kept'").fetchone()[0] == 1


async def test_bounded_concurrency(sandbox: Sandbox) -> None:
    import asyncio

    sandbox.faults.add("latency", path="WhoAmI", delay=0.2)
    active = 0
    peak = 0
    async with DataverseClient(sandbox.dataverse_url, max_concurrency=2) as dv:
        original = dv.http.http.request

        async def counting(*args, **kwargs):
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            try:
                return await original(*args, **kwargs)
            finally:
                active -= 1

        dv.http.http.request = counting  # type: ignore[method-assign]
        await asyncio.gather(*(dv.whoami() for _ in range(6)))
    assert peak == 2

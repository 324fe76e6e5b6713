"""Conditional allowlist reads of the event source knocknoc.fortinet.knocknoc_allowlist (issue 13).

Against the lab's Knocknoc with its switch ``conditional_allowlist`` on (an ``ETag`` on the allowlist, 304 for a
matching ``If-None-Match``) and off (no validator): each lab test is run both ways, whatever ``KKLAB_VARIANT`` says.
What the lab saw and answered is recorded on the lab's side of the connection (:class:`AllowlistSpy`, a wrapper
around the in-process lab's Knocknoc handler): the lab's own counters and event log do not tell a 304 from a 200.
"""

import asyncio
import importlib.util
from pathlib import Path

import pytest

# The ansible-core matrix venv (scripts/matrix.sh) installs no EDA requirements (requirements/eda.txt).
pytest.importorskip("aiohttp", reason="requirements/eda.txt is not installed in this virtualenv")

from kklab.core import Response  # noqa: E402  (the lab package, on pytest's pythonpath)

# The helpers of the plugin's main test module (the plugin loaded from its file, the lab's sign-in calls, the
# source run on a queue as ansible-rulebook runs it), loaded by path: test directories are no packages.
_spec = importlib.util.spec_from_file_location("knocknoc_allowlist_source_tests",
                                               str(Path(__file__).with_name("test_knocknoc_allowlist.py")))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)
plugin, Knocknoc, Source, allowlist_args, run, off = (base.plugin, base.Knocknoc, base.Source, base.allowlist_args,
                                                      base.run, base.off)


class AllowlistSpy:
    """Every allowlist request the lab's Knocknoc handled: the validators it carried and the status answered.

    ``stale_cache``: from then on the lab answers 304 to every request that carries a validator, whatever the
    allowlist holds now, as a broken server or an intermediary with a stale entry would."""

    def __init__(self, labview, monkeypatch):
        self.device = labview.lab.devices["knocknoc"]
        self.log = []
        self.stale_cache = False
        self.foreign_tag = False
        handle = self.device.handle

        def spy(request):
            if "/allowlists/" not in request.path:
                return handle(request)
            sent = request.header("If-None-Match")
            if self.stale_cache and sent:
                response = Response(304, None, headers={"ETag": sent})
            elif self.foreign_tag and sent:
                response = Response(304, None, headers={"ETag": '"another-representation"'})
            else:
                response = handle(request)
            self.log.append({"if_none_match": sent, "if_modified_since": request.header("If-Modified-Since"),
                             "status": response.status, "etag": response.headers.get("ETag")})
            return response

        monkeypatch.setattr(self.device, "handle", spy)

    def since(self, mark):
        return self.log[mark:]


@pytest.fixture(params=[True, False], ids=["validators", "no-validators"])
def conditional(request, labview):
    """The lab's Knocknoc with ``conditional_allowlist`` set for this test (lab.reset puts it back)."""
    labview.control("POST", "/devices/knocknoc/switches", {"conditional_allowlist": request.param})
    assert labview.lab.devices["knocknoc"].switches["conditional_allowlist"] is request.param
    return request.param


@pytest.fixture
def spy(labview, monkeypatch):
    return AllowlistSpy(labview, monkeypatch)


def retrievals(labview):
    return [e for e in labview.control("GET", "/devices/knocknoc/dump")["events"] if e["event"] == "AllowlistRetrieved"]


# -- (1) unchanged reads ----------------------------------------------------------------------------------------
def test_unchanged_reads_are_answered_304_and_emit_nothing(labview, conditional, spy):
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    kk.sign_in(knoc, "alice", "198.51.100.7")

    async def scenario():
        source = Source(allowlist_args(labview, knoc))
        try:
            snapshot = await source.next()
            assert (snapshot["type"], snapshot["addresses"]) == ("snapshot", ["198.51.100.7"])
            assert await source.quiet(1.5) == []
        finally:
            await source.close()

    run(scenario())
    log = spy.log
    # The spy saw every read the lab logged (AllowlistRetrieved is written for 200 and 304 alike).
    assert len(log) == len(retrievals(labview))
    first, later = log[0], log[1:]
    assert len(later) >= 5, log
    assert first["if_none_match"] is None and first["status"] == 200
    if conditional:
        assert first["etag"]
        assert all((r["if_none_match"], r["status"]) == (first["etag"], 304) for r in later), later
    else:
        assert first["etag"] is None
        assert all((r["if_none_match"], r["status"]) == (None, 200) for r in later), later
    assert not any(r["if_modified_since"] for r in log)  # the lab sends no Last-Modified: nothing to send back


# -- (2) a change after a run of 304s ---------------------------------------------------------------------------
def test_a_sign_in_and_a_sign_out_after_a_run_of_304s_are_seen_on_the_next_read(labview, conditional, spy):
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    alice = kk.sign_in(knoc, "alice", "198.51.100.7")

    async def scenario():
        source = Source(allowlist_args(labview, knoc))
        try:
            assert (await source.next())["addresses"] == ["198.51.100.7"]
            assert await source.quiet(1.0) == []
            tag = spy.log[0]["etag"]
            assert [r["status"] for r in spy.log[1:]] == [304 if conditional else 200] * (len(spy.log) - 1)
            mark = len(spy.log)
            await off(kk.sign_in, knoc, "bob", "198.51.100.8")
            added = await source.next(2)
            assert (added["type"], added["addresses"]) == ("added", ["198.51.100.8"])
            assert await source.quiet(1.0) == []
            if conditional:
                # The first read after the sign-in saw it (at most one read was on its way while bob signed in):
                # asked with the old tag, answered in full with a new one.
                index = next(i for i, r in enumerate(spy.since(mark)) if r["status"] == 200)
                assert index <= 1, spy.since(mark)
                change = spy.since(mark)[index]
                assert change["if_none_match"] == tag and change["etag"] not in (None, tag)
            else:
                index, change = 0, spy.since(mark)[0]
                assert change["if_none_match"] is None and change["etag"] is None
            after = spy.since(mark)[index + 1:]
            assert after and all(r["status"] == (304 if conditional else 200) for r in after), after
            if conditional:
                assert all(r["if_none_match"] == change["etag"] for r in after), after
            await off(kk.sign_out, knoc, alice)
            removed = await source.next(2)
            assert (removed["type"], removed["addresses"]) == ("removed", ["198.51.100.7"])
        finally:
            await source.close()
        assert not [e for e in source.events if e["type"] in ("error", "recovered")], source.events

    run(scenario())


# -- (4) a failed read drops the validator ----------------------------------------------------------------------
@pytest.mark.parametrize("fault", [{"kind": "status", "status": 503}, {"kind": "malformed"}], ids=["503", "malformed"])
def test_a_failed_read_drops_the_validator_so_a_304_cannot_bring_back_what_was_read_before(labview, conditional, spy,
                                                                                           fault):
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    alice = kk.sign_in(knoc, "alice", "198.51.100.7")

    async def scenario():
        source = Source(allowlist_args(labview, knoc))
        try:
            assert (await source.next())["addresses"] == ["198.51.100.7"]
            assert await source.quiet(0.5) == []
            await off(lambda: labview.fault("knocknoc", match="allowlists", **fault))
            error = await source.next(2)
            assert error["type"] == "error" and error["addresses_kept"] == 1, error
            # While reads fail (the lab's faults answer before its handler: the spy logs none of them) the allowlist
            # changes, and from now on anything asked with a validator is answered 304 (a stale cache): had the
            # source kept alice's tag, alice would stand and bob be missed.
            mark = len(spy.log)
            await off(kk.sign_out, knoc, alice)
            await off(kk.sign_in, knoc, "bob", "198.51.100.8")
            spy.stale_cache = True
            await off(lambda: labview.control("DELETE", "/devices/knocknoc/faults"))
            recovered = (await source.until(lambda e: e["type"] != "error", timeout=3))[0]
            assert recovered["type"] == "recovered" and recovered["failures"] >= 1, recovered
            removed, added = await source.next(2), await source.next(2)
            assert (removed["type"], removed["addresses"]) == ("removed", ["198.51.100.7"])
            assert (added["type"], added["addresses"]) == ("added", ["198.51.100.8"])
            assert await source.quiet(1.0) == []
            after = spy.since(mark)
            assert after[0]["if_none_match"] is None and after[0]["status"] == 200, after
            if conditional:
                # Conditional again from the recovering read's own tag (bob's allowlist): the 304s keep bob.
                assert after[1:] and all((r["if_none_match"], r["status"]) == (after[0]["etag"], 304)
                                         for r in after[1:]), after
        finally:
            await source.close()

    run(scenario())


# -- conservative with 304s --------------------------------------------------------------------------------------
def test_snapshots_read_in_full_even_with_a_validator(labview, conditional, spy, tmp_path):
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    kk.sign_in(knoc, "alice", "198.51.100.7")
    request = tmp_path / "snapshot.request"

    async def scenario():
        source = Source(allowlist_args(labview, knoc, snapshot_request_file=str(request)))
        try:
            assert (await source.next())["reason"] == "start"
            assert await source.quiet(0.5) == []
            # A stale cache from now on: a snapshot (the reconcile trigger) must still read what the server holds.
            await off(kk.sign_in, knoc, "bob", "198.51.100.8")
            spy.stale_cache = True
            mark = len(spy.log)
            request.write_text("")
            snapshot = (await source.until(lambda e: e["type"] == "snapshot", timeout=3))[0]
            assert snapshot["reason"] == "request" and snapshot["addresses"] == ["198.51.100.7", "198.51.100.8"]
            full = [r for r in spy.since(mark) if r["if_none_match"] is None]
            assert full and full[-1]["status"] == 200
        finally:
            await source.close()

    run(scenario())


def test_a_304_for_another_tag_is_not_taken_and_the_read_is_made_again_in_full(labview, spy):
    labview.control("POST", "/devices/knocknoc/switches", {"conditional_allowlist": True})
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    kk.sign_in(knoc, "alice", "198.51.100.7")

    async def scenario():
        source = Source(allowlist_args(labview, knoc))
        try:
            assert (await source.next())["addresses"] == ["198.51.100.7"]
            await asyncio.sleep(0.3)
            spy.foreign_tag = True
            mark = len(spy.log)
            await off(kk.sign_in, knoc, "bob", "198.51.100.8")
            added = await source.next(2)
            assert (added["type"], added["addresses"]) == ("added", ["198.51.100.8"])
            assert await source.quiet(0.5) == []
            statuses = [(r["if_none_match"] is not None, r["status"]) for r in spy.since(mark)]
            # Each poll: the conditional read's 304 names another tag, so the same poll reads in full.
            full = [i for i, s in enumerate(statuses) if s == (False, 200)]
            assert len(full) >= 3 and all(i > 0 and statuses[i - 1] == (True, 304) for i in full), statuses
            assert set(statuses) == {(True, 304), (False, 200)}, statuses
        finally:
            await source.close()
        assert not [e for e in source.events if e["type"] == "error"], source.events

    run(scenario())


def test_a_304_to_a_read_without_a_validator_is_an_error_not_content(labview, monkeypatch):
    device = labview.lab.devices["knocknoc"]
    monkeypatch.setattr(device, "handle", lambda request: Response(304, None) if "/allowlists/" in request.path
                        else type(device).handle(device, request))
    kk = Knocknoc(labview)
    knoc = kk.knoc()

    async def scenario():
        source = Source(allowlist_args(labview, knoc))
        try:
            event = await source.next()
            assert (event["type"], event["kind"]) == ("error", "status") and "304" in event["message"], event
        finally:
            await source.close()
        assert not [e for e in source.events if e["type"] == "snapshot"]

    run(scenario())


# -- validators, without a server ---------------------------------------------------------------------------------
def _target():
    return plugin.Target("edge", "allowlist", "https://kk.example.com/api/v1/allowlists/a/b.txt", "k")


STATE = frozenset({"198.51.100.7"})


@pytest.mark.parametrize("headers, wanted", [
    ({}, {}),
    ({"ETag": '"abc"'}, {"If-None-Match": '"abc"'}),
    ({"ETag": 'W/"abc"'}, {"If-None-Match": 'W/"abc"'}),
    # Not an entity tag (unquoted, or too long to be one): not sent back.
    ({"ETag": "abc"}, {}),
    ({"ETag": '"%s"' % ("a" * 300)}, {}),
    # Last-Modified validates only when at least a second older than Date (one-second precision).
    ({"Last-Modified": "Wed, 02 Dec 2026 04:00:00 GMT", "Date": "Wed, 02 Dec 2026 04:00:01 GMT"},
     {"If-Modified-Since": "Wed, 02 Dec 2026 04:00:00 GMT"}),
    ({"Last-Modified": "Wed, 02 Dec 2026 04:00:00 GMT", "Date": "Wed, 02 Dec 2026 04:00:00 GMT"}, {}),
    ({"Last-Modified": "Wed, 02 Dec 2026 04:00:00 GMT"}, {}),
    ({"Last-Modified": "yesterday", "Date": "Wed, 02 Dec 2026 04:00:01 GMT"}, {}),
    ({"ETag": '"abc"', "Last-Modified": "Wed, 02 Dec 2026 03:00:00 GMT", "Date": "Wed, 02 Dec 2026 04:00:00 GMT"},
     {"If-None-Match": '"abc"', "If-Modified-Since": "Wed, 02 Dec 2026 03:00:00 GMT"}),
])
def test_which_validators_are_kept_and_sent_back(headers, wanted):
    target = _target()
    target.remember(headers, STATE)
    assert target.conditional_headers() == wanted
    assert target.cached == (STATE if wanted else None)
    target.forget()
    assert target.conditional_headers() == {} and target.cached is None


def test_a_304_must_name_the_tag_that_was_sent():
    assert plugin.same_entity_tag('"abc"', None)
    assert plugin.same_entity_tag('"abc"', 'W/"abc"')
    assert not plugin.same_entity_tag('"abc"', '"abd"')
    assert plugin.same_entity_tag(None, '"abc"')  # validated by If-Modified-Since: the tag is only information

"""The event source plugin knocknoc.fortinet.knocknoc_allowlist, on an asyncio queue, against the lab's Knocknoc.

Users sign in and out through the lab's (modelled) grants API; the tests read what the plugin puts on the
queue, the way ansible-rulebook would.
"""

import asyncio
import importlib.util
import json
import time
from pathlib import Path

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils import _knocknoc

# The ansible-core matrix venv (scripts/matrix.sh) installs no EDA requirements (requirements/eda.txt).
pytest.importorskip("aiohttp", reason="requirements/eda.txt is not installed in this virtualenv")

ROOT = Path(__file__).resolve().parents[4]
PLUGIN_PATH = ROOT / "extensions" / "eda" / "plugins" / "event_source" / "knocknoc_allowlist.py"
_spec = importlib.util.spec_from_file_location("knocknoc_allowlist_source", str(PLUGIN_PATH))
plugin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plugin)

FAST = {"interval": 0.1, "batch_window": 1.0, "max_backoff": 0.4, "snapshot_interval": 0}


# -- helpers ---------------------------------------------------------------------------------------------------
class Knocknoc:
    """Signs users in and out on the lab's Knocknoc (modelled grants API, as an administrator)."""

    def __init__(self, labview):
        self.labview = labview
        self.view = labview.device("knocknoc")
        self.headers = {"Authorization": "Bearer " + labview.info("knocknoc")["admin_token"]}

    def knoc(self, name="edge", mode="passive_plus"):
        doc = {"name": name, "mode": mode, "device_url": self.labview.info("fgt1")["url"], "authorization_token": "unused"}
        if mode == "passive_plus":
            doc["external_connector_name"] = "kk_allow"
        else:
            doc["address_group"] = "kk_users"
        reply = self.view.post("/api/v1/knocs", json=doc, headers=self.headers)
        assert reply.status_code == 201, reply.text
        return reply.json()

    def sign_in(self, knoc, user, ip):
        reply = self.view.post("/api/v1/knocs/%d/grants" % knoc["knoc"]["id"], json={"username": user, "ip": ip},
                               headers=self.headers)
        assert reply.status_code in (200, 201), reply.text
        return reply.json()["grant"]

    def sign_out(self, knoc, grant):
        reply = self.view.request("DELETE", "/api/v1/knocs/%d/grants/%d" % (knoc["knoc"]["id"], grant["id"]),
                                  headers=self.headers)
        assert reply.status_code == 204, reply.text


def allowlist_args(labview, knoc, **extra):
    args = {"allowlists": [{"name": "edge", "url": knoc["allowlist"]["url"], "api_key": knoc["allowlist"]["api_key"]}],
            "ca_path": labview.info("knocknoc").get("ca_path") or labview.state["ca_path"]}
    args.update(FAST)
    args.update(extra)
    return args


class Source:
    """The plugin running as ansible-rulebook runs it: main(queue, args) in a task."""

    def __init__(self, args):
        self.queue = asyncio.Queue()
        self.events = []
        self.task = asyncio.ensure_future(plugin.main(self.queue, args))

    async def next(self, timeout=10.0):
        get = asyncio.ensure_future(self.queue.get())
        done, _pending = await asyncio.wait([get, self.task], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if get not in done:
            get.cancel()
            if self.task in done:
                self.task.result()  # raises the plugin's error
            raise AssertionError("no event within %ss; got %s" % (timeout, self.events))
        event = get.result()["knocknoc"]
        self.events.append(event)
        return event

    async def until(self, predicate, timeout=10.0):
        """Events until one matches ``predicate``; returns (matching event, events before it)."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            event = await self.next(max(deadline - time.monotonic(), 0.01))
            if predicate(event):
                return event, seen
            seen.append(event)

    async def quiet(self, seconds):
        """The events of the next ``seconds``."""
        seen = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                seen.append(await self.next(max(deadline - time.monotonic(), 0.01)))
            except AssertionError:
                break
        return seen

    async def close(self):
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


def off(func, *args):
    """A blocking lab call, off the event loop."""
    return asyncio.get_running_loop().run_in_executor(None, func, *args)


# -- parsing and configuration (no lab) --------------------------------------------------------------------------
PARSER_CASES = [
    "198.51.100.7\n198.51.100.8\n",
    "  203.0.113.5  \n\n# comment\n2001:DB8::7\n",
    "[2001:db8::9]\nfe80::1%eth0\nfe80::2%eth0/64\n10.0.0.0/24\n",
    "not-an-ip\n198.51.100.300\n<html>\n198.51.100.1/33\n1.2.3.4\n",
    "",
    "\r\n192.0.2.1\r\n",
]


@pytest.mark.parametrize("text", PARSER_CASES)
def test_the_parser_agrees_with_the_modules(text):
    assert plugin.parse_allowlist(text) == _knocknoc.parse_allowlist(text)


def test_addresses_are_normalised_so_that_one_address_is_one_entry():
    assert plugin.normalize("2001:DB8::7") == plugin.normalize("2001:db8::7/128") == "2001:db8::7"
    assert plugin.normalize("198.51.100.7/32") == "198.51.100.7"
    assert plugin.normalize("10.0.0.1/24") == "10.0.0.0/24"


def test_configuration_comes_from_the_modules_environment_variables(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    env = {"KNOCKNOC_ALLOWLIST_URL": "https://kk.example.com/api/v1/allowlists/a/b.txt",
           "KNOCKNOC_ALLOWLIST_API_KEY": "s3cret", "KNOCKNOC_VALIDATE_CERTS": "no", "KNOCKNOC_TIMEOUT": "3",
           "KNOCKNOC_TLS_SERVER_NAME": "kk.lab"}
    config = plugin.Config({}, env)
    assert [(t.name, t.source, t.secret) for t in config.targets] == [("allowlist", "allowlist", "s3cret")]
    assert config.ssl is False and config.server_hostname == "kk.lab" and config.timeout == 3.0
    config = plugin.Config({"knocs": ["ops"], "allowlists": [{"name": "edge", "url": env["KNOCKNOC_ALLOWLIST_URL"],
                                                              "api_key_env": "EDGE_KEY"}]},
                           {"KNOCKNOC_URL": "https://kk.example.com", "KNOCKNOC_TOKEN": "t0ken", "EDGE_KEY": "k3y"})
    assert [(t.name, t.source, t.secret) for t in config.targets] == [("edge", "allowlist", "k3y"), ("ops", "grants", "t0ken")]


@pytest.mark.parametrize("args, message", [
    ({}, "nothing to poll"),
    ({"allowlist_url": "http://kk.example.com/api/v1/allowlists/a/b.txt", "allowlist_api_key": "k"}, "https://"),
    ({"allowlist_url": "https://apikey:k@kk.example.com/a.txt", "allowlist_api_key": "k"}, "must not contain credentials"),
    ({"allowlist_url": "https://kk.example.com/a.txt"}, "allowlist_api_key"),
    ({"allowlists": [{"name": "a", "url": "https://kk.example.com/a.txt", "api_key_env": "UNSET_VARIABLE"}]}, "api_key"),
    ({"knocs": ["ops"], "url": "https://kk.example.com"}, "token"),
    ({"allowlist_url": "https://kk.example.com/a.txt", "allowlist_api_key": "k", "tls_fingerprint": "AB:CD"}, "SHA-256"),
    ({"allowlist_url": "https://kk.example.com/a.txt", "allowlist_api_key": "k", "ca_path": "/nonexistent/ca.pem"},
     "does not exist"),
    ({"allowlist_url": "https://kk.example.com/a.txt", "allowlist_api_key": "k", "interval": "soon"}, "interval"),
])
def test_bad_configuration_is_refused_before_any_read(args, message):
    with pytest.raises(plugin.ConfigError, match=message):
        plugin.Config(args, {})


def test_a_configuration_error_never_shows_the_key():
    with pytest.raises(ValueError) as info:
        args = {"allowlist_url": "https://apikey:hunter2@kk.example.com/a.txt", "allowlist_api_key": "hunter2"}
        asyncio.run(plugin.main(asyncio.Queue(), args))
    assert "hunter2" not in str(info.value)


# -- against the lab ---------------------------------------------------------------------------------------------
def test_snapshot_then_added_and_removed_with_no_secret_in_any_event(labview):
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    alice = kk.sign_in(knoc, "alice", "198.51.100.7")

    async def scenario():
        source = Source(allowlist_args(labview, knoc))
        try:
            snapshot = await source.next()
            assert snapshot["type"] == "snapshot" and snapshot["reason"] == "start"
            assert snapshot["addresses"] == ["198.51.100.7"] and snapshot["count"] == 1
            assert snapshot["allowlist"] == "edge" and snapshot["source"] == "allowlist"
            bob = await off(kk.sign_in, knoc, "bob", "2001:DB8::8")
            added = await source.next()
            assert (added["type"], added["addresses"], added["count"]) == ("added", ["2001:db8::8"], 1)
            await off(kk.sign_out, knoc, alice)
            removed = await source.next()
            assert (removed["type"], removed["addresses"]) == ("removed", ["198.51.100.7"])
            # Signing in again with the same address renews the grant: the allowlist does not change.
            await off(kk.sign_in, knoc, "bob", "2001:db8::8")
            assert await source.quiet(0.6) == []
            await off(kk.sign_out, knoc, bob)
            assert (await source.next())["addresses"] == ["2001:db8::8"]
        finally:
            await source.close()
        return source.events

    events = run(scenario())
    text = json.dumps(events)
    for secret in (knoc["allowlist"]["api_key"], knoc["allowlist"]["url"].rsplit("/", 1)[1].split(".")[0],
                   labview.info("knocknoc")["admin_token"]):
        assert secret not in text


def test_a_burst_of_100_sign_ins_in_one_second_is_at_most_two_events(labview):
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    addresses = ["198.18.%d.%d" % (i // 200, 1 + i % 200) for i in range(100)]

    def burst():  # spread over one second by the lab itself (lab control call)
        return labview.control("POST", "/devices/knocknoc/sign-in", {"knoc": "edge", "spread_seconds": 1.0, "grants": [
            {"username": "user%03d" % i, "ip": ip} for i, ip in enumerate(addresses)]})

    async def scenario():
        source = Source(allowlist_args(labview, knoc, batch_window=2.0))
        try:
            assert (await source.next())["addresses"] == []
            assert (await off(burst))["scheduled"] == 100
            seen = []
            while sum(len(e["addresses"]) for e in seen) < 100:
                event = await source.next(5)
                assert event["type"] == "added", event
                seen.append(event)
            assert sorted(a for e in seen for a in e["addresses"]) == sorted(addresses)
            assert len(seen) <= 2, [e["count"] for e in seen]
            assert await source.quiet(0.5) == []
        finally:
            await source.close()

    run(scenario())


def test_an_unreachable_server_revokes_nothing_reports_errors_and_recovers(labview):
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    alice = kk.sign_in(knoc, "alice", "198.51.100.7")
    kk.sign_in(knoc, "bob", "198.51.100.8")

    async def scenario():
        source = Source(allowlist_args(labview, knoc))
        try:
            assert (await source.next())["count"] == 2
            await off(lambda: labview.fault("knocknoc", kind="drop", match="allowlists"))
            await off(kk.sign_out, knoc, alice)  # the sign-out happens while the source cannot see it
            errors = await source.quiet(2.0)
            assert errors and all(e["type"] == "error" and e["kind"] == "connect" for e in errors), errors
            assert [e["failures"] for e in errors] == list(range(1, len(errors) + 1))
            assert all(e["retry_in"] <= 0.4 and e["addresses_kept"] == 2 for e in errors)
            await off(lambda: labview.control("DELETE", "/devices/knocknoc/faults"))
            recovered = (await source.until(lambda e: e["type"] != "error", timeout=3))[0]
            assert recovered["type"] == "recovered" and recovered["failures"] >= len(errors)
            removed = await source.next()
            assert (removed["type"], removed["addresses"]) == ("removed", ["198.51.100.7"])
        finally:
            await source.close()

    run(scenario())


@pytest.mark.parametrize("fault, kind", [
    ({"kind": "status", "status": 503}, "status"),
    ({"kind": "malformed"}, "parse"),
    ({"kind": "delay", "seconds": 1.5}, "timeout"),
])
def test_a_failed_or_unreadable_read_is_an_error_never_a_removal(labview, fault, kind):
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    kk.sign_in(knoc, "alice", "198.51.100.7")

    async def scenario():
        source = Source(allowlist_args(labview, knoc, timeout=0.5))
        try:
            assert (await source.next())["count"] == 1
            await off(lambda: labview.fault("knocknoc", match="allowlists", count=2, **fault))
            first = await source.next()
            assert first["type"] == "error" and first["kind"] == kind, first
            rest = await source.quiet(2.5)
            assert [e["type"] for e in rest if e["type"] != "error"] == ["recovered"], rest
        finally:
            await source.close()

    run(scenario())


def test_wrong_key_and_wrong_certificate_are_reported_as_such(labview):
    kk = Knocknoc(labview)
    knoc = kk.knoc()

    async def scenario():
        wrong_key = [{"name": "edge", "url": knoc["allowlist"]["url"], "api_key": "wrong-key"}]
        for args, kind in ((dict(allowlist_args(labview, knoc), allowlists=wrong_key), "auth"),
                           (dict(allowlist_args(labview, knoc), ca_path=None), "tls")):
            source = Source(args)
            try:
                event = await source.next()
                assert (event["type"], event["kind"]) == ("error", kind), event
                assert "wrong-key" not in json.dumps(event)
            finally:
                await source.close()

    run(scenario())


def test_an_unexpectedly_empty_allowlist_is_held_until_confirmed(labview):
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    grants = [kk.sign_in(knoc, "alice", "198.51.100.7"), kk.sign_in(knoc, "bob", "198.51.100.8")]

    async def scenario():
        source = Source(allowlist_args(labview, knoc, empty_confirm_seconds=1.5))
        try:
            assert (await source.next())["count"] == 2
            for grant in grants:
                await off(kk.sign_out, knoc, grant)
            held = await source.next()
            assert (held["type"], held["kind"], held["addresses_kept"]) == ("error", "empty_held", 2)
            started = time.monotonic()
            removed = await source.next(4)
            assert removed["type"] == "removed" and removed["count"] == 2
            assert time.monotonic() - started >= 1.0
        finally:
            await source.close()
        # allow_empty: at once (with the last user's sign-out the same: see the first test).
        grants[:] = [await off(kk.sign_in, knoc, "alice", "198.51.100.7")]
        grants.append(await off(kk.sign_in, knoc, "bob", "198.51.100.8"))
        source = Source(allowlist_args(labview, knoc, allow_empty=True))
        try:
            assert (await source.next())["count"] == 2
            for grant in grants:
                await off(kk.sign_out, knoc, grant)
            removed = (await source.until(lambda e: e["type"] == "removed"))[0]
            assert removed["count"] <= 2 and not [e for e in source.events if e["type"] == "error"]
        finally:
            await source.close()

    run(scenario())


def test_an_empty_read_that_comes_back_removes_nothing(labview):
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    grants = [kk.sign_in(knoc, "alice", "198.51.100.7"), kk.sign_in(knoc, "bob", "198.51.100.8")]

    async def scenario():
        source = Source(allowlist_args(labview, knoc, empty_confirm_seconds=5))
        try:
            assert (await source.next())["count"] == 2
            await off(lambda: labview.fault("knocknoc", kind="delay", seconds=0.3, match="allowlists", count=1))
            for grant in grants:  # both gone between two reads (the delayed read is in flight)
                await off(kk.sign_out, knoc, grant)
            assert (await source.next())["kind"] == "empty_held"
            await off(kk.sign_in, knoc, "alice", "198.51.100.7")
            removed = await source.next(3)
            assert (removed["type"], removed["addresses"]) == ("removed", ["198.51.100.8"])
            assert await source.quiet(1.0) == []
        finally:
            await source.close()

    run(scenario())


def test_grants_carry_user_names_and_a_shared_address_stays_until_its_last_holder_leaves(labview):
    kk = Knocknoc(labview)
    knoc = kk.knoc("ops", mode="active")
    info = labview.info("knocknoc")
    args = dict(FAST, knocs=["ops"], url=info["url"], token=info["admin_token"], ca_path=info.get("ca_path") or labview.state["ca_path"])

    async def scenario():
        source = Source(args)
        try:
            snapshot = await source.next()
            assert (snapshot["type"], snapshot["source"], snapshot["grants"]) == ("snapshot", "grants", [])
            alice = await off(kk.sign_in, knoc, "alice", "198.51.100.7")
            added = await source.next()
            assert added["grants"] == [{"username": "alice", "ip": "198.51.100.7"}]
            assert added["addresses"] == ["198.51.100.7"]
            await off(kk.sign_in, knoc, "bob", "198.51.100.7")
            added = await source.next()
            assert added["grants"] == [{"username": "bob", "ip": "198.51.100.7"}]
            await off(kk.sign_out, knoc, alice)
            removed = await source.next()
            assert removed["grants"] == [{"username": "alice", "ip": "198.51.100.7"}] and removed["addresses"] == []
        finally:
            await source.close()
        assert info["admin_token"] not in json.dumps(source.events)

    run(scenario())


def test_a_snapshot_on_request_and_on_schedule(labview, tmp_path):
    kk = Knocknoc(labview)
    knoc = kk.knoc()
    kk.sign_in(knoc, "alice", "198.51.100.7")
    request = tmp_path / "snapshot.request"

    async def scenario():
        source = Source(allowlist_args(labview, knoc, snapshot_request_file=str(request), snapshot_interval=1.5))
        try:
            assert (await source.next())["reason"] == "start"
            request.write_text("")
            event = await source.next(3)
            assert (event["type"], event["reason"], event["addresses"]) == ("snapshot", "request", ["198.51.100.7"])
            assert not request.exists()
            event = await source.next(3)
            assert (event["type"], event["reason"]) == ("snapshot", "interval")
        finally:
            await source.close()

    run(scenario())


def test_the_documentation_is_yaml_and_lists_exactly_the_options_the_code_reads():
    import re
    import yaml
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert yaml.safe_load(plugin.EXAMPLES)[0]["sources"][0]["knocknoc.fortinet.knocknoc_allowlist"]
    code = PLUGIN_PATH.read_text().split("\nLOG = ", 1)[1]
    read = set(re.findall(r'args\.get\("(\w+)"', code)) | set(re.findall(r'_option\(args, environ, "(\w+)"', code))
    assert set(doc["options"]) == read
    for name, option in doc["options"].items():
        assert option.get("type") and option.get("description"), name
        assert option["type"] != "list" or option.get("elements"), name


def test_messages_are_scrubbed_of_keys_and_allowlist_paths():
    config = plugin.Config({"allowlist_url": "https://kk.example.com/api/v1/allowlists/acl/t0k3n.txt",
                            "allowlist_api_key": "s3cret"}, {})
    reader = plugin.Reader(config, None)
    text = reader._scrub("GET https://kk.example.com/api/v1/allowlists/acl/t0k3n.txt failed with s3cret")
    assert "t0k3n" not in text and "s3cret" not in text and "kk.example.com" in text

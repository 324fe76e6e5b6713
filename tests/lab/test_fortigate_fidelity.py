"""The FortiGate emulator's lab switches (docs/lab.md "Fidelity", kklab/variants.py): both sides of each,
through the control endpoint (POST /devices/<fgt>/switches), and KKLAB_VARIANT=alternate flipping them all."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kklab import variants
from kklab.fortigate import SWITCHES
from test_fortigate_lab import CMDB, MON, Fgt, control, fgt_lab, make_push_resource, wait_for  # noqa: F401 pylint: disable=unused-import

V6_LONG = "2001:0db8:0000:0000:0000:0000:0000:0007"


@pytest.fixture
def lab(fgt_lab, monkeypatch):  # noqa: F811
    monkeypatch.setenv("KKLAB_VARIANT", "default")
    fgt_lab.reset()
    return fgt_lab


@pytest.fixture
def fgt(lab):
    return Fgt(lab, "fgt1")


def switch(lab, **values):
    return dict((k, v["value"]) for k, v in control(lab, "POST", "/devices/fgt1/switches", values).items())


def current(lab):
    return dict((k, v["value"]) for k, v in control(lab, "GET", "/devices/fgt1/switches").items())


def test_variant_flips_every_switch_and_a_reset_restores_the_choice(lab, monkeypatch):
    device = lab.devices["fgt1"]
    assert variants.resolve(SWITCHES, device, environ={}) == dict((w.name, w.default) for w in SWITCHES)
    assert variants.resolve(SWITCHES, device, environ={"KKLAB_VARIANT": "alternate"}) == dict(
        (w.name, w.alternate) for w in SWITCHES)
    with pytest.raises(ValueError):
        variants.resolve(SWITCHES, device, {"switches": {"no_such_switch": 1}}, environ={})
    assert switch(lab, remove_matches="value")["remove_matches"] == "value"
    lab.reset()
    assert current(lab)["remove_matches"] == "text"
    monkeypatch.setenv("KKLAB_VARIANT", "alternate")
    lab.reset()
    assert current(lab)["remove_matches"] == "value"


@pytest.mark.parametrize("as_written", [True, False])
@pytest.mark.parametrize("matches", ["text", "value"])
def test_spelling_and_removal(lab, fgt, as_written, matches):
    switch(lab, entries_as_written=as_written, remove_matches=matches)
    make_push_resource(fgt)
    fgt.push({"name": "kk_allow", "command": "add", "entries": [V6_LONG, "172.200.1.4/16"]})
    listed = [e["entry"] for e in fgt.entry_list("kk_allow")["entries"]]
    assert listed == ([V6_LONG, "172.200.1.4/16"] if as_written else ["2001:db8::7", "172.200.1.4/16"])
    fgt.push({"name": "kk_allow", "command": "remove", "entries": ["2001:db8::7"]})
    # a remove by the canonical text works when the device matches by value, or listed it canonically
    removed = matches == "value" or not as_written
    remaining = [e["entry"] for e in fgt.entry_list("kk_allow")["entries"]]
    assert (remaining == ["172.200.1.4/16"]) is removed
    fgt.push({"name": "kk_allow", "command": "remove", "entries": [V6_LONG, "172.200.1.4/16"]})
    assert fgt.entry_list("kk_allow")["entries"] == []  # the device's own spelling always works


def test_push_reply_without_results(lab, fgt):
    make_push_resource(fgt)
    switch(lab, push_results=False)
    body = fgt.push({"name": "kk_allow", "command": "add", "entries": ["192.0.2.1"]}).json()
    assert body["status"] == "success" and "results" not in body
    assert [e["entry"] for e in fgt.entry_list("kk_allow")["entries"]] == ["192.0.2.1"]


@pytest.mark.parametrize("text", ["", "External resource {name} does not exist."])
def test_push_missing_resource_text(lab, fgt, text):
    switch(lab, push_missing_text=text or "Failed to process command.")
    result = fgt.push({"name": "ghost", "command": "add", "entries": ["192.0.2.1"]}).json()["results"][0]
    assert result["status"] == "error"
    assert ("does not exist" in result["error"]) is bool(text)


def test_policy_lookup_protocol(lab, fgt):
    params = {"srcintf": "port1", "sourceip": "192.0.2.1", "dest": "10.0.0.10", "destport": 443}
    lookup = MON + "/firewall/policy-lookup"
    assert fgt.get(lookup, params=dict(params, protocol=6)).status_code == 200
    assert fgt.get(lookup, params=dict(params, protocol="tcp")).status_code == 424
    switch(lab, policy_lookup_protocol="names")
    assert fgt.get(lookup, params=dict(params, protocol="tcp")).status_code == 200


@pytest.mark.parametrize("field", ["access_token", "api_key"])
def test_generate_key_field(lab, fgt, field):
    switch(lab, generate_key_field=field)
    results = fgt.ok("POST", MON + "/system/api-user/generate-key", {"api-user": "kk-readonly"})["results"]
    assert list(results) == [field] and len(results[field]) == 30


class EtagFeed:
    """An allowlist server that answers If-None-Match with 304 while its body is unchanged."""

    def __init__(self, lab):
        self.body = b""
        self.statuses = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                etag = '"%s"' % hashlib.sha256(feed.body).hexdigest()[:16]
                if self.headers.get("If-None-Match") == etag:
                    feed.statuses.append(304)
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                feed.statuses.append(200)
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(feed.body)))
                self.end_headers()
                self.wfile.write(feed.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = lab.authority.server_context("127.0.0.1").wrap_socket(self.server.socket, server_side=True)
        self.url = "https://127.0.0.1:%d/allow.txt" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("conditional", [True, False])
def test_conditional_poll_keeps_pushed_entries_on_304(lab, fgt, conditional):
    switch(lab, conditional_poll=conditional)
    feed = EtagFeed(lab)
    try:
        feed.body = b"198.51.100.7\n"
        fgt.ok("POST", CMDB + "/system/external-resource", {"name": "kk_feed", "type": "address", "resource": feed.url})
        poll = {"vdom": "root", "name": "kk_feed"}
        # A new feed polls on the next tick of the lab clock; the next one is refresh-rate minutes later.
        assert wait_for(lambda: fgt.entry_list("kk_feed")["status"] == "success" and feed.statuses == [200])
        fgt.push({"name": "kk_feed", "command": "add", "entries": ["203.0.113.9"]})
        control(lab, "POST", "/devices/fgt1/poll", poll)
        listed = fgt.entry_list("kk_feed")
        pushed_kept = "203.0.113.9" in [e["entry"] for e in listed["entries"]]
        assert pushed_kept is conditional and listed["http_status_code"] == (304 if conditional else 200)
        assert feed.statuses == ([200, 304] if conditional else [200, 200])
        feed.body = b"198.51.100.8\n"  # a changed allowlist replaces the list either way
        control(lab, "POST", "/devices/fgt1/poll", poll)
        assert [e["entry"] for e in fgt.entry_list("kk_feed")["entries"]] == ["198.51.100.8"]
    finally:
        feed.close()


@pytest.mark.parametrize("listed", [True, False])
def test_feed_error_and_pushed_entries_on_a_feed(lab, fgt, listed):
    switch(lab, entries_on_feed_error=listed, pushed_listed_on_feed=listed)
    fgt.ok("POST", CMDB + "/system/external-resource",
           {"name": "kk_feed", "type": "address", "resource": "https://127.0.0.1:9/allow.txt"})
    control(lab, "POST", "/devices/fgt1/poll", {"vdom": "root", "name": "kk_feed"})
    fgt.push({"name": "kk_feed", "command": "add", "entries": ["203.0.113.9"]})
    results = fgt.entry_list("kk_feed")
    assert results["status"] == "error" and results["error"]
    assert ("entries" in results) is listed
    switch(lab, entries_on_feed_error=True)
    assert (results_entries(fgt) == ["203.0.113.9"]) is listed
    # in force either way: the policy lookup admits it
    fgt.ok("POST", CMDB + "/firewall/policy",
           {"policyid": 0, "name": "pp", "srcintf": [{"name": "port1"}], "dstintf": [{"name": "port2"}],
            "srcaddr": [{"name": "kk_feed"}], "dstaddr": [{"name": "all"}], "service": [{"name": "ALL"}],
            "action": "accept", "schedule": "always"})
    assert fgt.lookup("203.0.113.9", srcintf="port1", dest="10.0.0.10")["policy_id"] != 0


def results_entries(fgt):
    return [e["entry"] for e in fgt.entry_list("kk_feed")["entries"]]

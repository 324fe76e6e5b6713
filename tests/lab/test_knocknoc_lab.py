"""The Knocknoc emulator as a client sees it: the documented allowlist (EDL) and the modelled API."""

import datetime
import json

import pytest
import requests

from kklab import lab as lab_module
from kklab.knocknoc import Knocknoc
from kklab.lab import Lab

ADMIN = "admin-token-for-tests"
TOPOLOGY = {"knocknoc": [{"name": "knocknoc", "version": "26.06.1", "admin_token": ADMIN}]}
FGT_TOKEN = "fgt-device-token-0123456789"


@pytest.fixture(scope="module")
def kk_lab(tmp_path_factory):
    # Only this emulator: the FortiGate/FortiManager ones may not be importable yet.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lab_module, "_device_classes", lambda: {"knocknoc": Knocknoc})
        instance = Lab(tmp_path_factory.mktemp("kklab"), topology=TOPOLOGY).start()
    yield instance
    instance.stop()


@pytest.fixture
def kk(kk_lab):
    kk_lab.reset()
    return Client(kk_lab)


class Client:
    def __init__(self, lab):
        self.lab = lab
        self.device = lab.devices["knocknoc"]
        self.url = self.device.url
        self.session = requests.Session()
        # REQUESTS_CA_BUNDLE in the environment would otherwise override the lab CA.
        self.session.trust_env = False
        self.session.verify = str(lab.authority.ca_path)

    def api(self, method, path, body=None, token=ADMIN, **kwargs):
        headers = {"Authorization": "Bearer %s" % token} if token else {}
        data = body if isinstance(body, (str, bytes)) else (json.dumps(body) if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.session.request(method, self.url + "/api/v1" + path, data=data, headers=headers,
                                    timeout=10, **kwargs)

    def create(self, **fields):
        resp = self.api("POST", "/knocs", fields)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def grant(self, knoc_id, username, ip, **extra):
        resp = self.api("POST", "/knocs/%d/grants" % knoc_id, dict(username=username, ip=ip, **extra))
        assert resp.status_code in (200, 201), resp.text
        return resp.json()["grant"]

    def fetch(self, url, key, username="apikey"):
        auth = (username, key) if key is not None else None
        return self.session.get(url, auth=auth, timeout=10)

    def writes(self):
        return self.lab.devices["knocknoc"].writes


def when(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def passive(name="edl-1", **extra):
    return dict(name=name, mode="passive", **extra)


def active_fgt(name="fgt-active", **extra):
    return dict(name=name, mode="active", device_url="https://fw.example.com", authorization_token=FGT_TOKEN,
                address_group="kk_users", **extra)


# -- lab.json / TLS ----------------------------------------------------------------------------
def test_describe_and_ordinary_certificate(kk):
    info = json.loads(kk.lab.state_path.read_text())["devices"]["knocknoc"]
    assert info["kind"] == "knocknoc"
    assert info["tokens"] == {"admin": ADMIN} and info["admin_token"] == ADMIN
    assert info["api_url"] == kk.url + "/api/v1"
    # Plain hostname verification against the URL's host works (no serial-number certificate).
    assert kk.api("GET", "/knocs").status_code == 200
    port = kk.url.rsplit(":", 1)[1]
    resp = kk.session.get("https://localhost:%s/api/v1/knocs" % port, headers={"Authorization": "Bearer " + ADMIN})
    assert resp.status_code == 200


# -- auth --------------------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "wrong"])
def test_management_api_requires_the_admin_token(kk, token):
    resp = kk.api("GET", "/knocs", token=token)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert kk.api("POST", "/knocs", passive(), token=token).status_code == 401
    assert kk.api("GET", "/knocs").json() == {"knocs": []}


def test_basic_auth_with_admin_token_is_accepted(kk):
    resp = kk.session.get(kk.url + "/api/v1/knocs", auth=("anyone", ADMIN))
    assert resp.status_code == 200


# -- CRUD --------------------------------------------------------------------------------------
def test_create_passive_knoc_returns_allowlist_once(kk):
    created = kk.create(**passive(description="office EDL"))
    knoc, allowlist = created["knoc"], created["allowlist"]
    assert knoc["id"] == 1 and knoc["name"] == "edl-1"
    assert knoc["type"] == "firewalls_appliances" and knoc["vendor"] == "fortinet"
    assert knoc["use_fortimanager"] is False and knoc["insecure"] is False
    assert knoc["authorization_token_set"] is False
    assert knoc["allowlist_ip_restrictions"] == ["0.0.0.0/0", "::/0"]
    assert knoc["address_group"] is None and knoc["prefix"] is None and knoc["vdom"] is None
    assert allowlist["username"] == "apikey" and allowlist["api_key"]
    assert allowlist["url"] == knoc["allowlist_url"]
    assert allowlist["url"].startswith(kk.url + "/api/v1/allowlists/") and allowlist["url"].endswith(".txt")
    fetched = kk.api("GET", "/knocs/1")
    assert fetched.status_code == 200 and fetched.json() == {"knoc": knoc}
    assert allowlist["api_key"] not in fetched.text
    assert allowlist["api_key"] not in kk.api("GET", "/knocs").text


def test_list_filters_by_name(kk):
    kk.create(**passive("a"))
    kk.create(**passive("b"))
    assert [k["name"] for k in kk.api("GET", "/knocs").json()["knocs"]] == ["a", "b"]
    assert [k["id"] for k in kk.api("GET", "/knocs?name=b").json()["knocs"]] == [2]
    assert kk.api("GET", "/knocs?name=zzz").json() == {"knocs": []}


def test_defaults_per_mode(kk):
    fgt = kk.create(**active_fgt())
    assert "allowlist" not in fgt
    knoc = fgt["knoc"]
    assert knoc["prefix"] == "kk_" and knoc["vdom"] == "root" and knoc["adom"] is None
    assert knoc["allowlist_url"] is None and knoc["allowlist_ip_restrictions"] is None
    plus = kk.create(name="pp-fmg", mode="passive_plus", use_fortimanager=True, device_url="https://fmg.example.com",
                     authorization_token="fmg-token", external_connector_name="knocknoc_feed")
    knoc = plus["knoc"]
    assert knoc["adom"] == "root" and knoc["device_targets"] == [] and knoc["vdom"] is None
    assert knoc["external_connector_name"] == "knocknoc_feed" and plus["allowlist"]["api_key"]
    th = kk.create(name="fmg-th", mode="active", use_fortimanager=True, device_url="https://fmg.example.com",
                   authorization_token="fmg-token", grant_duration_minutes=30, adom="")["knoc"]
    assert th["adom"] == "root"  # the seed: blank means root
    assert th["address_group"] is None and th["device_targets"] is None and th["grant_duration_minutes"] == 30


def test_put_updates_given_fields_and_keeps_the_rest(kk):
    knoc_id = kk.create(**active_fgt(vdom="dmz"))["knoc"]["id"]
    resp = kk.api("PUT", "/knocs/%d" % knoc_id, {"description": "changed", "prefix": "knoc_"})
    assert resp.status_code == 200
    knoc = resp.json()["knoc"]
    assert knoc["description"] == "changed" and knoc["prefix"] == "knoc_" and knoc["vdom"] == "dmz"
    assert knoc["authorization_token_set"] is True  # write-only secret kept when not resent
    assert kk.device.dump()["knocs"][0]["authorization_token"] == FGT_TOKEN
    # A GET document can be sent back as is (read-only keys are ignored).
    assert kk.api("PUT", "/knocs/%d" % knoc_id, knoc).json()["knoc"] == knoc


def test_delete_and_missing(kk):
    created = kk.create(**passive())
    knoc_id = created["knoc"]["id"]
    url, key = created["allowlist"]["url"], created["allowlist"]["api_key"]
    kk.grant(knoc_id, "alice", "198.51.100.7")
    assert kk.api("DELETE", "/knocs/%d" % knoc_id).status_code == 204
    for method in ("GET", "PUT", "DELETE"):
        resp = kk.api(method, "/knocs/%d" % knoc_id, {} if method == "PUT" else None)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    assert kk.api("GET", "/knocs/abc").status_code == 404
    # Its allowlist stops answering.
    assert kk.fetch(url, key).status_code == 404
    # A new knoc never reuses the old id.
    assert kk.create(**passive())["knoc"]["id"] == knoc_id + 1


# -- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize("body, field", [
    ({"mode": "passive"}, "name"),
    ({"name": "x"}, "mode"),
    ({"name": "x", "mode": "sideways"}, "mode"),
    ({"name": "x", "mode": "passive", "vendor": "paloalto"}, "vendor"),
    ({"name": "x", "mode": "passive", "colour": "red"}, "colour"),
    ({"name": "x", "mode": "passive", "use_fortimanager": "yes"}, "use_fortimanager"),
    ({"name": "x", "mode": "passive", "device_url": "https://fw"}, "device_url"),
    ({"name": "x", "mode": "passive", "address_group": "g"}, "address_group"),
    ({"name": "x", "mode": "passive", "adom": "emea"}, "adom"),
    ({"name": "x", "mode": "passive", "allowlist_ip_restrictions": ["not-a-cidr"]}, "allowlist_ip_restrictions"),
    ({"name": "x", "mode": "passive", "grant_duration_minutes": 0}, "grant_duration_minutes"),
    ({"name": "x", "mode": "passive_plus", "device_url": "https://fw", "authorization_token": "t"},
     "external_connector_name"),
    ({"name": "x", "mode": "passive_plus", "device_url": "https://fw", "authorization_token": "t",
      "external_connector_name": "n" * 36}, "external_connector_name"),
    ({"name": "x", "mode": "passive_plus", "authorization_token": "t", "external_connector_name": "n"}, "device_url"),
    ({"name": "x", "mode": "active", "device_url": "ftp://fw", "authorization_token": "t", "address_group": "g"},
     "device_url"),
    ({"name": "x", "mode": "active", "device_url": "https://fw", "address_group": "g"}, "authorization_token"),
    ({"name": "x", "mode": "active", "device_url": "https://fw", "authorization_token": "t"}, "address_group"),
    ({"name": "x", "mode": "active", "use_fortimanager": True, "device_url": "https://fmg", "authorization_token": "t",
      "address_group": "g"}, "address_group"),
    ({"name": "x", "mode": "active", "use_fortimanager": True, "device_url": "https://fmg", "authorization_token": "t",
      "device_targets": ["FGT1"]}, "device_targets"),
    ({"name": "x", "mode": "active", "device_url": "https://fw", "authorization_token": "t", "address_group": "g",
      "external_connector_name": "feed"}, "external_connector_name"),
])
def test_validation_errors_name_the_field(kk, body, field):
    resp = kk.api("POST", "/knocs", body)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid_field" and error["message"].startswith(field + ":")
    assert kk.api("GET", "/knocs").json() == {"knocs": []}
    assert kk.writes() == 0


def test_duplicate_name_and_bad_json(kk):
    kk.create(**passive("dup"))
    other = kk.create(**passive("other"))["knoc"]["id"]
    resp = kk.api("POST", "/knocs", passive("dup"))
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "conflict"
    assert kk.api("PUT", "/knocs/%d" % other, {"name": "dup"}).status_code == 409
    resp = kk.api("POST", "/knocs", "{not json")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_json"
    assert kk.api("POST", "/knocs", "[1, 2]").status_code == 400
    assert kk.api("GET", "/nothing-here").status_code == 404


def test_put_validates_the_merged_document(kk):
    knoc_id = kk.create(**active_fgt())["knoc"]["id"]
    resp = kk.api("PUT", "/knocs/%d" % knoc_id, {"address_group": None})
    assert resp.status_code == 422 and resp.json()["error"]["message"].startswith("address_group:")
    resp = kk.api("PUT", "/knocs/%d" % knoc_id, {"mode": "passive"})
    assert resp.status_code == 422 and resp.json()["error"]["message"].startswith("device_url:")
    assert kk.api("GET", "/knocs/%d" % knoc_id).json()["knoc"]["mode"] == "active"


def test_secret_never_returned(kk):
    created = kk.api("POST", "/knocs", active_fgt())
    knoc_id = created.json()["knoc"]["id"]
    responses = [created, kk.api("GET", "/knocs"), kk.api("GET", "/knocs/%d" % knoc_id),
                 kk.api("PUT", "/knocs/%d" % knoc_id, {"authorization_token": FGT_TOKEN + "-new"})]
    for resp in responses:
        assert FGT_TOKEN not in resp.text
        assert "authorization_token\"" not in resp.text
    assert responses[2].json()["knoc"]["authorization_token_set"] is True
    assert kk.device.dump()["knocs"][0]["authorization_token"] == FGT_TOKEN + "-new"
    assert ADMIN not in json.dumps(kk.device.dump())


def test_mode_change_creates_and_drops_the_allowlist(kk):
    knoc_id = kk.create(**active_fgt())["knoc"]["id"]
    resp = kk.api("PUT", "/knocs/%d" % knoc_id, {"mode": "passive", "device_url": None, "authorization_token": None,
                                                 "address_group": None})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    # The defaults filled in for active mode (prefix, vdom) are dropped, not refused.
    assert body["knoc"]["prefix"] is None and body["knoc"]["vdom"] is None
    assert body["knoc"]["authorization_token_set"] is False
    url, key = body["allowlist"]["url"], body["allowlist"]["api_key"]
    assert kk.fetch(url, key).status_code == 200
    back = kk.api("PUT", "/knocs/%d" % knoc_id, active_fgt(allowlist_ip_restrictions=None)).json()
    assert "allowlist" not in back and back["knoc"]["allowlist_url"] is None
    assert kk.fetch(url, key).status_code == 404


# -- allowlist (documented part) ----------------------------------------------------------------
def test_allowlist_txt_and_json(kk):
    created = kk.create(**passive())
    knoc_id, url, key = created["knoc"]["id"], created["allowlist"]["url"], created["allowlist"]["api_key"]
    empty = kk.fetch(url, key)
    assert empty.status_code == 200 and empty.text == ""
    for user, ip in [("carol", "2001:db8::1"), ("alice", "198.51.100.20"), ("bob", "198.51.100.3")]:
        kk.grant(knoc_id, user, ip)
    txt = kk.fetch(url, key)
    assert txt.status_code == 200
    assert txt.headers["Content-Type"].startswith("text/plain")
    assert txt.text == "198.51.100.3\n198.51.100.20\n2001:db8::1\n"
    # Any username is accepted (docs: "apikey" or any string value); no suffix means txt.
    assert kk.fetch(url, key, username="traefik").text == txt.text
    assert kk.fetch(url[:-len(".txt")], key).text == txt.text
    js = kk.fetch(url[:-len(".txt")] + ".json", key)
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("application/json")
    acl_id = url.split("/")[-2]
    assert js.json() == {"acl_id": acl_id, "entries": ["198.51.100.3", "198.51.100.20", "2001:db8::1"]}
    assert kk.fetch(url[:-len(".txt")] + ".csv", key).status_code == 404


def test_allowlist_answers_a_matching_etag_with_304_until_it_changes(kk):
    # The default side of the switch, also when KKLAB_VARIANT=alternate turned it off (make pytest-alternate).
    kk.lab.devices["knocknoc"].switches["conditional_allowlist"] = True
    created = kk.create(**passive())
    knoc_id, url, key = created["knoc"]["id"], created["allowlist"]["url"], created["allowlist"]["api_key"]
    kk.grant(knoc_id, "alice", "198.51.100.20")
    first = kk.fetch(url, key)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and first.text == "198.51.100.20\n"
    again = kk.session.get(url, auth=("apikey", key), headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.text == "" and again.headers["ETag"] == etag
    # A wrong key is refused before the validator is looked at.
    assert kk.session.get(url, auth=("apikey", "wrong"), headers={"If-None-Match": etag}, timeout=10).status_code == 401
    kk.grant(knoc_id, "bob", "198.51.100.3")
    changed = kk.session.get(url, auth=("apikey", key), headers={"If-None-Match": etag}, timeout=10)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.text == "198.51.100.3\n198.51.100.20\n"
    # The other side of the lab switch: no validator, every poll downloads.
    kk.lab.devices["knocknoc"].switches["conditional_allowlist"] = False
    plain = kk.session.get(url, auth=("apikey", key), headers={"If-None-Match": etag}, timeout=10)
    assert plain.status_code == 200 and "ETag" not in plain.headers


def test_allowlist_auth_failures(kk):
    created = kk.create(**passive())
    url, key = created["allowlist"]["url"], created["allowlist"]["api_key"]
    for bad in (None, "wrong-key", ADMIN):
        resp = kk.fetch(url, bad)
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="knocknoc"'
    acl_id, token = url.split("/")[-2:]
    assert kk.fetch(url.replace(acl_id, "00000000-0000-0000-0000-000000000000"), key).status_code == 404
    assert kk.fetch(url.replace(token, "0" * 32 + ".txt"), key).status_code == 404
    assert kk.session.post(url, auth=("apikey", key)).status_code == 405
    rejections = kk.device.dump()["allowlist_rejections"]
    assert [r["reason"] for r in rejections[:3]] == ["no credentials", "wrong key", "wrong key"]


def test_allowlist_ip_restrictions(kk):
    created = kk.create(**passive(allowlist_ip_restrictions=["10.0.0.0/8"]))
    knoc_id, url, key = created["knoc"]["id"], created["allowlist"]["url"], created["allowlist"]["api_key"]
    assert created["knoc"]["allowlist_ip_restrictions"] == ["10.0.0.0/8"]
    resp = kk.fetch(url, key)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    # Editing the restrictions keeps the key.
    kk.api("PUT", "/knocs/%d" % knoc_id, {"allowlist_ip_restrictions": ["127.0.0.0/8"]})
    assert kk.fetch(url, key).status_code == 200


def test_key_rotation(kk):
    created = kk.create(**passive())
    knoc_id, old = created["knoc"]["id"], created["allowlist"]
    resp = kk.api("POST", "/knocs/%d/allowlist-key" % knoc_id)
    assert resp.status_code == 200
    new = resp.json()["allowlist"]
    assert new["url"] == old["url"] and new["username"] == "apikey" and new["api_key"] != old["api_key"]
    assert kk.fetch(old["url"], old["api_key"]).status_code == 401
    assert kk.fetch(new["url"], new["api_key"]).status_code == 200
    fgt_id = kk.create(**active_fgt())["knoc"]["id"]
    resp = kk.api("POST", "/knocs/%d/allowlist-key" % fgt_id)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "no_allowlist"


def test_fetches_are_recorded(kk):
    created = kk.create(**passive())
    url, key = created["allowlist"]["url"], created["allowlist"]["api_key"]
    kk.fetch(url, key)
    kk.fetch(url.replace(".txt", ".json"), key, username="fgt1")
    events = kk.device.dump()["events"]
    assert [(e["event"], e["format"], e["username"]) for e in events] == [
        ("AllowlistRetrieved", "txt", "apikey"), ("AllowlistRetrieved", "json", "fgt1")]
    assert events[0]["consumer_ip"] == "127.0.0.1" and events[0]["acl"] == "edl-1"
    assert events[0]["acl_id"] == url.split("/")[-2] and events[0]["request_id"]


# -- grants (modelled) --------------------------------------------------------------------------
def test_grant_validation_and_listing(kk):
    knoc_id = kk.create(**passive())["knoc"]["id"]
    path = "/knocs/%d/grants" % knoc_id
    for body, field in [({"username": "a", "ip": "300.1.1.1"}, "ip"), ({"username": "a"}, "ip"),
                        ({"ip": "192.0.2.1"}, "username"),
                        ({"username": "a", "ip": "192.0.2.1", "duration_minutes": -5}, "duration_minutes")]:
        resp = kk.api("POST", path, body)
        assert resp.status_code == 422 and resp.json()["error"]["message"].startswith(field + ":")
    resp = kk.api("POST", path, {"username": "alice", "ip": "2001:DB8:0::5"})
    assert resp.status_code == 201
    grant = resp.json()["grant"]
    assert grant["ip"] == "2001:db8::5" and grant["username"] == "alice"
    assert set(grant) >= {"id", "username", "ip", "created_at", "expires_at"}
    assert grant["created_at"].endswith("Z") and grant["expires_at"] > grant["created_at"]
    assert kk.api("GET", path).json() == {"grants": [grant]}
    assert kk.api("GET", "%s/%d" % (path, grant["id"])).json() == {"grant": grant}
    assert kk.api("POST", "/knocs/999/grants", {"username": "a", "ip": "192.0.2.1"}).status_code == 404


def test_loototl_shared_ip_listed_once_until_last_user_leaves(kk):
    created = kk.create(**passive())
    knoc_id, url, key = created["knoc"]["id"], created["allowlist"]["url"], created["allowlist"]["api_key"]
    alice = kk.grant(knoc_id, "alice", "203.0.113.10")
    bob = kk.grant(knoc_id, "bob", "203.0.113.10")
    assert alice["id"] != bob["id"]
    assert kk.fetch(url, key).text == "203.0.113.10\n"
    assert kk.api("DELETE", "/knocs/%d/grants/%d" % (knoc_id, alice["id"])).status_code == 204
    assert kk.fetch(url, key).text == "203.0.113.10\n"
    assert kk.api("DELETE", "/knocs/%d/grants/%d" % (knoc_id, alice["id"])).status_code == 404
    assert kk.api("DELETE", "/knocs/%d/grants/%d" % (knoc_id, bob["id"])).status_code == 204
    assert kk.fetch(url, key).text == ""


def test_grants_expire_on_the_lab_clock(kk):
    created = kk.create(**passive(grant_duration_minutes=10))
    knoc_id, url, key = created["knoc"]["id"], created["allowlist"]["url"], created["allowlist"]["api_key"]
    short = kk.grant(knoc_id, "alice", "192.0.2.10")                          # 10 min (knoc override)
    capped = kk.grant(knoc_id, "bob", "192.0.2.11", duration_minutes=480)    # capped at the knoc's 10
    shorter = kk.grant(knoc_id, "carol", "192.0.2.10", duration_minutes=5)     # shorter than the override
    minutes = {g["username"]: (when(g["expires_at"]) - when(g["created_at"])).total_seconds() / 60
               for g in (short, capped, shorter)}
    assert minutes == {"alice": 10, "bob": 10, "carol": 5}
    kk.lab.clock.advance(6 * 60)
    kk.lab.tick()
    # carol left but alice still holds 192.0.2.10 (LOOTOTL).
    assert kk.fetch(url, key).text == "192.0.2.10\n192.0.2.11\n"
    control = json.loads(kk.lab.state_path.read_text())["control_url"]
    assert requests.post(control + "/clock/advance", json={"seconds": 5 * 60}, timeout=10).status_code == 200
    assert kk.fetch(url, key).text == ""
    assert kk.api("GET", "/knocs/%d/grants" % knoc_id).json() == {"grants": []}
    assert kk.device.grants[knoc_id] == {}


def test_default_grant_duration_and_renewal(kk):
    knoc_id = kk.create(**passive())["knoc"]["id"]
    first = kk.grant(knoc_id, "alice", "192.0.2.1")
    kk.lab.clock.advance(59 * 60)
    resp = kk.api("POST", "/knocs/%d/grants" % knoc_id, {"username": "alice", "ip": "192.0.2.1"})
    # Unique per (user, IP): signing in again renews the same grant.
    assert resp.status_code == 200
    renewed = resp.json()["grant"]
    assert renewed["id"] == first["id"] and renewed["expires_at"] > first["expires_at"]
    kk.lab.clock.advance(2 * 60)
    kk.lab.tick()
    assert [g["id"] for g in kk.api("GET", "/knocs/%d/grants" % knoc_id).json()["grants"]] == [first["id"]]
    kk.lab.clock.advance(60 * 60)
    kk.lab.tick()
    assert kk.api("GET", "/knocs/%d/grants" % knoc_id).json() == {"grants": []}


# -- counters, faults, reset --------------------------------------------------------------------
def test_reads_never_count_as_writes(kk):
    created = kk.create(**passive())
    knoc_id, url, key = created["knoc"]["id"], created["allowlist"]["url"], created["allowlist"]["api_key"]
    assert kk.writes() == 1
    kk.api("GET", "/knocs")
    kk.api("GET", "/knocs/%d" % knoc_id)
    kk.api("GET", "/knocs/%d/grants" % knoc_id)
    kk.fetch(url, key)
    kk.fetch(url, "bad")
    kk.api("POST", "/knocs", {"name": "bad"})  # refused: nothing changed
    assert kk.writes() == 1
    grant = kk.grant(knoc_id, "alice", "192.0.2.1")
    kk.api("PUT", "/knocs/%d" % knoc_id, {"description": "x"})
    kk.api("POST", "/knocs/%d/allowlist-key" % knoc_id)
    kk.api("DELETE", "/knocs/%d/grants/%d" % (knoc_id, grant["id"]))
    kk.api("DELETE", "/knocs/%d" % knoc_id)
    assert kk.writes() == 6


def test_status_fault_uses_the_error_envelope(kk):
    control = json.loads(kk.lab.state_path.read_text())["control_url"]
    requests.post(control + "/devices/knocknoc/faults", json={"kind": "status", "status": 503, "count": 1}, timeout=10)
    resp = kk.api("GET", "/knocs")
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "lab_fault"
    assert kk.api("GET", "/knocs").status_code == 200


def test_reset_keeps_the_admin_token(kk):
    kk.create(**passive())
    kk.lab.reset()
    assert kk.api("GET", "/knocs").json() == {"knocs": []}
    assert kk.create(**passive())["knoc"]["id"] == 1
    control = json.loads(kk.lab.state_path.read_text())["control_url"]
    dump = requests.get(control + "/devices/knocknoc/dump", timeout=10).json()
    assert [k["name"] for k in dump["knocs"]] == ["edl-1"] and dump["knocs"][0]["allowlist"]["api_key"]

# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every module x every option a bad value applies to x a corpus of hostile values: each refused before
any request, without a traceback, with a message that names the option (issue 10).

Modules run in-process (tests/harness/modules.py ``module_result``) with every connection URL pointing at a
port where nothing listens, and ``requests.Session.send`` replaced by a counter that refuses to send: a
request would show in the counter (and fail with a connection error rather than with the option's name).
A control run per module with valid values proves that the module does reach the network when it should,
so that "zero requests" means "refused in time" and not "never tried".

The classification of options below (which option is a name, an address, a URL...) is this test's own; it
does not read the collection's rule table, so an option the collection forgets to check shows up here.
A second corpus can be run through the same matrix: ``KK_HOSTILE_CORPUS=<file.json>``, a JSON object of
kind -> list of values (kinds as in :data:`CORPUS`; merged into the built-in corpus).
"""

import json
import os
import socket

import pytest
import requests

from harness.modules import module_result

# -- the corpus, per kind of option -------------------------------------------------------------------
# Long enough that Ansible's masking of a no_log option's value (each item of it) leaves the message readable.
WRONG_TYPES = [{"key-1": "value-1"}, ["item-1", "item-2"]]
GENERIC = ["", " ", "\t", "a\nb", "a\rb", "a\x00b", "\u00e9l\u00e8ve", "\u202eevil", "\U0001f600", "x" * 5000]
NAME = GENERIC + WRONG_TYPES + [
    "/", "a/b", '"', "'", "<b>", "../..", "..", "a;b", "$(id)", "`id`", "a\\b", "%2e%2e", "a,b", " lead",
    "trail ", "-dash", "fe80::1%eth0", "a|b", "a&b", "a=b", "a?b", "a#b", "*", "a\x7fb", "x" * 80,
]
CORPUS = {
    "name": NAME,
    "target": NAME + ["FGT;1", "../x", "adom/root/device/", "adom//device/x", "adom/root/oops/x",
                      "adom/../device/x", "adom/root/device/a/b"],
    "prefix": GENERIC + WRONG_TYPES + ["a/b_", "kk,", "kk ", " kk", "-kk", "kk\u00e9_", "x" * 100, "kk%", "kk:",
                                       "kk\"", "../", "kk;"],
    "user": NAME + ["alice,bob", "al ice"],
    "text": ["a\nb", "a\rb", "a\x00b", "caf\u00e9", "\u202e", '"quoted"', "<script>", "a\\b", "x" * 300, "`id`",
             {"a": 1}],
    "ip": GENERIC + WRONG_TYPES + ["fe80::1%eth0", "198.51.100.7/32", "198.51.100.7 ", " 198.51.100.7", "999.1.1.1",
                                   "1.2.3", "\u0661.\u0661.\u0661.\u0661", "../..", "localhost", "198.51.100.0/24"],
    "address": GENERIC + WRONG_TYPES + ["fe80::1%eth0", "0.0.0.0/0", "::/0", "1.2.3.4/33", "../..", "not-an-ip",
                                        "1.2.3.4\n", "999.1.1.1", "\u0661.1.1.1", "1.2.3.4;5"],
    "network": GENERIC + WRONG_TYPES + ["fe80::1%eth0", "1.2.3.4/33", "../..", "not-an-ip", "10.0.0.0/8 "],
    "url": GENERIC + WRONG_TYPES + [
        "https://fw.example.com/api/v2", "https://fmg.example.com/jsonrpc", "http://fw.example.com",
        "https://u:p@fw.example.com", "https://fw.example.com:0", "https://fw.example.com:99999",
        "https://fw.example.com:abc", "https://fw.example.com?x=1", "https://fw.example.com#x", "fw.example.com",
        "https://", "https://[fe80::1%eth0]", "https://f\u00e9.example", "https://fw.example.com/../x",
        "file:///etc/passwd", "https://fw example.com", " https://fw.example.com", "https://fw.example.com\n"],
    "url_path": GENERIC + WRONG_TYPES + [
        "http://kk.example.com/api/v1/allowlists/1/5be1c0de9a8f4e7d.txt", "https://u:p@kk.example.com/x", "https://kk.example.com:0/x",
        "ftp://kk.example.com/x", "https://kk.example.com/x#f", "kk.example.com/x", "https://[fe80::1%eth0]/x",
        "https://kk.example.com/a b"],
    "token": ["", " ", "a b", "a\nb", "a\x00b", "\u00e9t\u00e9", "tok\r\nX-Injected: 1", {"a": 1}],
    "vdom": NAME + ["a.b", "x" * 32],
    "adom": NAME + ["x" * 36],
    "cmdb_path": GENERIC + WRONG_TYPES + ["../..", "firewall/../system", "/firewall/address", "firewall/address/",
                                          "firewall", "firewall/address?x=1", "firewall/address#", "firewall address",
                                          "firewall//address", "Firewall/Address", "firewall/addr\u00e9ss", "."],
    "fmg_path": GENERIC + WRONG_TYPES + [
        "../..", "/pm/config/../../sys", "pm/../config/adom/root/obj/firewall/address", "/pm//config",
        "/pm/config/adom/root/obj/firewall/address?x", "/pm/config/adom/r\u00e9/obj", "/", "/pm/./config", "/pm/config/"],
    "port": ["abc", -1, 70000, {"a": 1}],
    "positive": ["abc", 0, -5, {"a": 1}],
    "minutes": ["abc", -5, 10 ** 7, {"a": 1}],  # 0 means "the default" for the durations
}
_extra = os.environ.get("KK_HOSTILE_CORPUS")
if _extra:
    with open(_extra) as handle:
        for _kind, _values in json.load(handle).items():
            CORPUS.setdefault(_kind, []).extend(_values)

DEAD = None  # a port where nothing listens, set by the fixture


def dead_url():
    return "https://127.0.0.1:%d" % DEAD


# -- modules: valid arguments (with which the module would make requests) and the options to attack --------
FGT = {"url": None, "token": "t0ken-fgt", "validate_certs": False}
FMG = {"url": None, "token": "t0ken-fmg", "validate_certs": False}
KK = {"url": None, "token": "t0ken-kk", "validate_certs": False}
CONNECTION_OPTIONS = {"url": "url", "token": "token", "tls_server_name": "name", "timeout": "positive"}

MODULES = {
    "fortigate_address_grant": {
        "base": dict(FGT, address_group="kk_users", addresses=["198.51.100.7"], user="alice"),
        "options": {"address_group": "name", "address_group6": "name", "prefix": "prefix", "user": "user",
                    "addresses": "address[]", "vdom": "vdom"},
    },
    "fortigate_dynamic_entry": {
        "base": dict(FGT, name="kk_allow", entries=["198.51.100.7"]),
        "options": {"name": "name", "entries": "address[]", "vdom": "vdom"},
    },
    "fortigate_object": {
        "base": dict(FGT, path="firewall/address", name="srv", data={"subnet": "10.0.0.10/32"}),
        "options": {"name": "name", "path": "cmdb_path", "vdom": "vdom"},
    },
    "fortigate_object_info": {
        "base": dict(FGT, path="firewall/address", name="srv"),
        "options": {"name": "name", "path": "cmdb_path", "vdom": "vdom"},
    },
    "fortigate_policy_lookup_info": {
        "base": dict(FGT, source="198.51.100.7", destination="10.0.0.10", source_interface="port1"),
        "options": {"source": "ip", "destination": "ip", "source_interface": "name", "destination_port": "port",
                    "vdom": "vdom"},
    },
    "fortimanager_object": {
        "base": dict(FMG, path="/pm/config/adom/{adom}/obj/firewall/address", name="srv",
                     data={"subnet": "10.0.0.10/32"}),
        "options": {"name": "name", "adom": "adom", "path": "fmg_path", "key_field": "name"},
    },
    "fortimanager_object_info": {
        "base": dict(FMG, path="/pm/config/adom/{adom}/obj/firewall/address", name="srv"),
        "options": {"name": "name", "adom": "adom", "path": "fmg_path", "key_field": "name"},
    },
    "fortimanager_trusted_host": {
        "base": dict(FMG, admin="alice", address="198.51.100.7"),
        "options": {"admin": "user", "address": "address", "baseline": "network[]"},
    },
    "fortinet_external_resource": {
        "base": dict(FGT, name="kk_allow", resource="https://kk.example.com/api/v1/allowlists/1/t0k.txt"),
        "options": {"name": "name", "resource": "url_path", "username": "user", "comments": "text",
                    "refresh_rate": "positive", "vdom": "vdom"},
    },
    "fortinet_preflight": {
        "base": dict(FGT, mode="active", address_group="kk_users"),
        "options": {"resource_name": "name", "allowlist_url": "url_path", "address_group": "name",
                    "address_prefix": "prefix", "device_targets": "target[]", "target_vdom": "vdom",
                    "api_user": "user", "agent_address": "ip", "agent_token": "token", "usernames": "user[]",
                    "test_ip": "ip", "test_interface": "name", "test_destination": "ip", "test_port": "port",
                    "knoc": "name", "knocknoc_url": "url", "knocknoc_token": "token",
                    "knocknoc_tls_server_name": "name", "vdom": "vdom"},
    },
    "fortinet_certificate_info": {
        "base": dict(FGT),
        "options": {"vdom": "vdom", "adom": "adom"},
    },
    "knocknoc_allowlist_info": {
        "base": {"url": "ALLOWLIST", "api_key": "k3y", "validate_certs": False},
        "options": {"url": "url_path", "api_key": "token", "username": "user"},
        "connection": False,
    },
    "knocknoc_grant": {
        "base": dict(KK, knoc="edge", username="alice", ip="198.51.100.7"),
        "options": {"knoc": "name", "username": "user", "ip": "ip", "duration_minutes": "minutes"},
    },
    "knocknoc_grant_info": {
        "base": dict(KK, knoc="edge"),
        "options": {"knoc": "name", "username": "user", "ip": "ip"},
    },
    "knocknoc_knoc": {
        "base": dict(KK, name="edge", mode="active", address_group="kk_users", prefix="kk_",
                     device_url="https://fw.example.com"),
        "options": {"name": "name", "device_url": "url", "authorization_token": "token", "adom": "adom",
                    "external_connector_name": "name", "device_targets": "target[]", "address_group": "name",
                    "prefix": "prefix", "vdom": "vdom", "description": "text", "grant_duration_minutes": "minutes",
                    "allowlist_ip_restrictions": "network[]", "allowlist_api_key": "token"},
    },
}


def base_args(module):
    args = {}
    for key, value in MODULES[module]["base"].items():
        if value is None and key == "url":
            value = dead_url()
        elif value == "ALLOWLIST":
            value = dead_url() + "/api/v1/allowlists/1/t0k.txt"
        args[key] = value
    return args


def cases():
    """(module, option, value) for the whole matrix; list options get the value as an item."""
    for module in sorted(MODULES):
        options = dict(MODULES[module]["options"])
        if MODULES[module].get("connection", True):
            for option, kind in CONNECTION_OPTIONS.items():
                options.setdefault(option, kind)
        for option in sorted(options):
            kind = options[option]
            is_list = kind.endswith("[]")
            for value in CORPUS[kind.rstrip("[]")]:
                yield module, option, ([value] if is_list else value)
                if is_list and isinstance(value, str) and "," not in value:
                    # a bare string where a list is expected ('' gave a traceback); Ansible splits it on commas, so
                    # 'a,b' is a valid list of two and left out
                    yield module, option, value


class Sends(object):
    """Counts the requests that ``requests.Session.send`` was asked to send, and the TCP connections asked
    of ``socket.create_connection`` (fortinet_certificate_info's handshake), and refuses them."""

    def __init__(self):
        self.count = 0

    def send(self):
        def send(session, request, **kwargs):
            self.count += 1
            raise requests.exceptions.ConnectionError("test: no request may be sent (%s)" % request.method)
        return send

    def connect(self):
        def create_connection(*args, **kwargs):
            self.count += 1
            raise ConnectionRefusedError("test: no connection may be opened")
        return create_connection


@pytest.fixture(scope="module", autouse=True)
def dead_port():
    global DEAD
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        DEAD = sock.getsockname()[1]
    yield DEAD


@pytest.fixture
def sends(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("FORTIGATE_", "FORTIMANAGER_", "KNOCKNOC_")):
            monkeypatch.delenv(name)
    counter = Sends()
    monkeypatch.setattr(requests.Session, "send", counter.send())
    monkeypatch.setattr(socket, "create_connection", counter.connect())
    return counter


def run(module, args):
    """The module's JSON result, or {"traceback": ...} when it raised instead of failing."""
    try:
        return module_result(module, args)
    except Exception as exc:  # noqa: BLE001 - any exception is what this test reports
        return {"traceback": "%s: %s" % (type(exc).__name__, exc)}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_valid_arguments_reach_the_network(module, sends):
    """The control: with valid values each module does send (so zero requests below means refused in time)."""
    result = run(module, base_args(module))
    assert "traceback" not in result, result
    assert sends.count >= 1, result


@pytest.mark.parametrize("module", sorted(MODULES))
def test_hostile_values_are_refused_before_any_request(module, sends):
    problems = []
    total = 0
    for name, option, value in cases():
        if name != module:
            continue
        total += 1
        args = base_args(module)
        args[option] = value
        before = sends.count
        result = run(module, args)
        shown = repr(value)[:60]
        if "traceback" in result:
            problems.append("%s=%s: %s" % (option, shown, result["traceback"][:300]))
        elif sends.count != before:
            problems.append("%s=%s: %d request(s) sent (%s)"
                            % (option, shown, sends.count - before, str(result.get("msg"))[:200]))
        elif not result.get("failed"):
            problems.append("%s=%s: accepted" % (option, shown))
        elif option.split(".")[-1] not in str(result.get("msg")):
            problems.append("%s=%s: the message does not name the option: %s"
                            % (option, shown, str(result.get("msg"))[:200]))
    print("%s: %d hostile values refused before any request, %d problems"
          % (module, total - len(problems), len(problems)))
    assert not problems, "%d of %d:\n" % (len(problems), total) + "\n".join(problems)


def test_required_options_refuse_null(sends):
    """null where a value is required (an undefined variable in a playbook)."""
    required = {
        "fortigate_address_grant": ["addresses"], "fortigate_dynamic_entry": ["name"],
        "fortimanager_trusted_host": ["admin", "address"], "fortinet_external_resource": ["name"],
        "knocknoc_grant": ["knoc", "username", "ip"], "knocknoc_knoc": ["name"],
        "fortigate_policy_lookup_info": ["source", "destination", "source_interface"],
    }
    problems = []
    for module, options in sorted(required.items()):
        for option in options:
            args = base_args(module)
            args[option] = None
            before = sends.count
            result = run(module, args)
            if "traceback" in result or not result.get("failed") or option not in str(result.get("msg")) \
                    or sends.count != before:
                problems.append("%s %s=None: %d request(s), %s" % (module, option, sends.count - before, result))
    assert not problems, "\n".join(problems)

# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""In-memory stand-ins for the preflight checks' transports: a FortiGate (CMDB tables, external
resource lists, policy-lookup) and a FortiManager answering JSON-RPC reads. Both record calls so
that tests can assert how many requests a check makes."""

import copy

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.target import Target


class FakeFortiGate(object):
    """One FortiGate as the checks see it (``_preflight.target.SingleFortiGate``'s interface). ``tables``: {path: [entries]}; ``lists``: {resource:
    entry-list results or None}; ``lookup``: function(params, fgt) -> results; ``fail``: {operation:
    KnocknocError} raised by that operation."""

    base_url = "https://fgt.example.com"

    def __init__(self, tables=None, lists=None, lookup=None, fail=None, status=None):
        self.status = dict(status or {"version": "7.4.4", "serial": "FGVM01TM24000001", "hostname": "fgt1"})
        self.tables = copy.deepcopy(tables or {})
        self.lists = copy.deepcopy(lists or {})
        self.lookup_fn = lookup or (lambda params, fgt: {"success": True, "policy_id": 0})
        self.fail = dict(fail or {})
        self.calls = []

    def _record(self, *call):
        self.calls.append(call)
        if call[0] in self.fail:
            raise self.fail[call[0]]

    def system_status(self):
        self._record("system_status")
        return dict(self.status)

    def get_table(self, path, fields=None):
        self._record("get_table", path)
        return copy.deepcopy(self.tables.get(path, []))

    def get_entry(self, path, mkey):
        self._record("get_entry", path, mkey)
        return next((copy.deepcopy(e) for e in self.tables.get(path, []) if e.get("name") == mkey), None)

    def create(self, path, data):
        self._record("create", path, data["name"])
        self.tables.setdefault(path, []).append(copy.deepcopy(data))

    def delete(self, path, mkey):
        self._record("delete", path, mkey)
        self.tables[path] = [e for e in self.tables.get(path, []) if e.get("name") != mkey]
        return True

    def add_member(self, path, mkey, member):
        self._record("add_member", path, mkey, member)
        group = next(e for e in self.tables[path] if e["name"] == mkey)
        group.setdefault("member", []).append({"name": member})
        return True

    def remove_member(self, path, mkey, member):
        self._record("remove_member", path, mkey, member)
        group = next(e for e in self.tables[path] if e["name"] == mkey)
        group["member"] = [m for m in group.get("member", []) if m["name"] != member]
        return True

    def entry_list(self, name):
        self._record("entry_list", name)
        return copy.deepcopy(self.lists.get(name))

    def policy_lookup(self, **params):
        self._record("policy_lookup", params.get("sourceip"))
        return self.lookup_fn(params, self)

    def dynamic_push(self, commands):
        self._record("dynamic_push", commands[0]["command"], tuple(commands[0]["entries"]))
        for command in commands:
            current = self.lists.setdefault(command["name"], {"entries": []})
            entries = [e for e in current.get("entries", []) if e["entry"] not in command["entries"]]
            if command["command"] == "add":
                entries += [{"entry": e, "valid": True} for e in command["entries"]]
            current["entries"] = entries
        return [{"status": "success"}]

    def entries(self, name):
        return sorted(e["entry"] for e in (self.lists.get(name) or {}).get("entries", []))


def target(label="fgt1", agent=None, **fgt):
    """A Target whose reader is a FakeFortiGate(**fgt) and whose agent is ``agent`` (default: the reader)."""
    reader = FakeFortiGate(**fgt)
    return Target(reader, agent or reader, label)


def policy(policyid=1, source="kk_allow", status="enable", action="accept", srcintf="port2", dstaddr="srv", v6=False):
    return {"policyid": policyid, "name": "kk", "status": status, "action": action,
            "srcaddr6" if v6 else "srcaddr": [{"name": source}], "srcintf": [{"name": srcintf}],
            "dstaddr": [{"name": dstaddr}]}


class FakeFMG(object):
    """A FortiManager client answering reads from ``routes[url]`` (data, or a KnocknocError to
    raise): ``call`` (an unknown URL is FortiManager's "object does not exist", raised with the
    caller's ``not_found_code``), ``get_or_none`` (unknown URL: None) and ``rpc`` (one request for
    several reads; an unknown URL answers -6, as FortiManager does for an ADOM it does not know).
    Records one entry per request: ``(method, url)``, or ``("rpc", (url, ...))``."""

    adom = "root"
    secrets = ()

    def __init__(self, routes=None):
        self.routes = dict(routes or {})
        self.calls = []

    def _answer(self, url):
        answer = self.routes[url]
        if isinstance(answer, KnocknocError):
            raise answer
        return copy.deepcopy(answer)

    def call(self, method, url, data=None, not_found_code=None, **options):
        self.calls.append((method, url))
        if url not in self.routes:
            raise KnocknocError(not_found_code, cause='JSON-RPC status -3 "object does not exist" on %s %s'
                                % (method, url), description=None if not_found_code else "FortiManager rejected the request",
                                details={"jsonrpc_code": -3})
        return self._answer(url)

    def get_or_none(self, url, adom=None, **options):
        self.calls.append(("get", url))
        return self._answer(url) if url in self.routes else None

    def rpc(self, method, params):
        self.calls.append(("rpc", tuple(param["url"] for param in params)))
        return [{"status": {"code": 0}, "data": self._answer(param["url"])} if param["url"] in self.routes
                else {"status": {"code": -6, "message": "Invalid url"}} for param in params]


def refused(code=202002):
    return KnocknocError(code, cause="HTTP %d on GET /api/v2/..." % (403 if code == 202002 else 401))

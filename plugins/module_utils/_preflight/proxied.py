# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""INTERIM: a managed FortiGate reached through FortiManager's ``/sys/proxy/json`` (reference H),
offering the part of the FortiGate interface preflight uses. To be replaced by the shared transport."""

from __future__ import annotations

try:
    from urllib.parse import urlencode
except ImportError:  # pragma: no cover
    urlencode = None

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import device_target


class ProxiedFortiGate(object):
    def __init__(self, fmg, adom, device, vdom):
        self.fmg = fmg
        self.target = device_target(adom, device)
        self.vdom = vdom
        self.label = device

    def _call(self, action, path, query=None, payload=None, allow_404=False, raw=False, vdom=None):
        params = dict(query or {})
        params["vdom"] = vdom or self.vdom
        resource = "%s?%s" % (path, urlencode(sorted(params.items())))
        items = self.fmg.proxy(action, resource, payload=payload, targets=[self.target])
        item = items[0] if items else None
        if item is None or item["status_code"] != 0:
            raise KnocknocError(None, "FortiManager could not reach %s for %s %s: %s" % (
                self.label, action.upper(), path, (item or {}).get("status_message") or "no reply"),
                description="FortiManager proxy call failed", details={"target": self.target})
        response = item["response"] if isinstance(item["response"], dict) else {}
        if (item["http_status"] == 404 and allow_404) or (raw and item["http_status"] == 200):
            return None if item["http_status"] == 404 else response
        if not item["ok"]:
            code = {401: 202001, 403: 202002}.get(item["http_status"])
            cause = "FortiGate %s answered HTTP %s to %s %s (through FortiManager)" % (
                self.label, item["http_status"], action.upper(), path)
            if code:
                raise KnocknocError(code, cause=cause, details={"target": self.target})
            raise KnocknocError(None, cause, description="FortiGate rejected the request",
                                details={"target": self.target, "fortios_error": response.get("error")})
        return response

    def get_table(self, path, vdom=None):
        results = self._call("get", "/api/v2/cmdb/%s" % path, vdom=vdom).get("results")
        return results if isinstance(results, list) else []

    def entry_list(self, name, vdom=None):
        response = self._call("get", "/api/v2/monitor/system/external-resource/entry-list", {"mkey": name},
                              allow_404=True, vdom=vdom)
        return None if response is None else response.get("results")

    def policy_lookup(self, vdom=None, **params):
        query = dict((k, v) for k, v in params.items() if v is not None)
        if ":" in str(query.get("sourceip")):
            query["ipv6"] = "true"
        return self._call("get", "/api/v2/monitor/firewall/policy-lookup", query, vdom=vdom).get("results")

    def dynamic_push(self, commands, vdom=None):
        response = self._call("post", "/api/v2/monitor/system/external-resource/dynamic", raw=True,
                              payload={"commands": list(commands)}, vdom=vdom)
        failed = [r for r in response.get("results") or [] if isinstance(r, dict) and r.get("status") == "error"]
        if failed:
            raise KnocknocError(202100, cause="%s rejected the push: %s" % (self.label, failed[0].get("error")))
        return response.get("results")

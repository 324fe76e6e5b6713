"""How tests see the lab: devices over HTTPS with plain ``requests`` (sharing no code with the
collection's clients), and the control endpoint. Imported by tests/conftest.py and by tests that start
a lab of their own (``from harness.labview import LabView``)."""

import ssl
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter


class _ServerNameAdapter(HTTPAdapter):
    """Verify a device as lab.json says: its own trust anchor (``ca_path``) and the name its certificate
    carries (``tls_server_name``: the serial, as the only CN of a Fortinet_Factory/Fortinet_Local
    certificate or as a subjectAltName, or the address of a Fortinet_GUI_Server).

    The name is checked by OpenSSL itself, with the CN fallback allowed for a certificate without
    subjectAltNames, so that these checks share nothing with the collection's own (_http.py)."""

    def __init__(self, server_name, ca_path):
        self._server_name = server_name
        self._ca_path = ca_path
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        context = ssl.create_default_context(cafile=self._ca_path)
        context.hostname_checks_common_name = True
        kwargs.update(ssl_context=context, server_hostname=self._server_name)
        super().init_poolmanager(*args, **kwargs)


class DeviceView:
    """Raw HTTPS access to one device of the lab, as an administrator would have it."""

    def __init__(self, lab, name, token=None):
        self.lab = lab
        self.device = lab.devices[name]
        info = self.device.describe()
        self.info = info
        self.url = info["url"]
        self.session = requests.Session()
        # REQUESTS_CA_BUNDLE in the environment would otherwise override the lab CA.
        self.session.trust_env = False
        ca_path = info.get("ca_path") or str(lab.authority.ca_path)
        self.session.verify = ca_path
        self.session.mount(self.url, _ServerNameAdapter(info.get("tls_server_name") or info["serial"], ca_path))
        token = token or info.get("admin_token")
        if token:
            self.session.headers["Authorization"] = "Bearer " + token

    def request(self, method, path, **kwargs):
        return self.session.request(method, self.url + path, timeout=15, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    # FortiGate helpers
    def cmdb(self, table, mkey=None, vdom="root"):
        path = "/api/v2/cmdb/" + table + ("/" + requests.utils.quote(str(mkey), safe="") if mkey else "")
        reply = self.get(path, params={"vdom": vdom})
        if reply.status_code == 404:
            return None
        reply.raise_for_status()
        results = reply.json()["results"]
        return results[0] if mkey else results

    def entries(self, resource, vdom="root"):
        reply = self.get("/api/v2/monitor/system/external-resource/entry-list",
                         params={"mkey": resource, "vdom": vdom})
        reply.raise_for_status()
        return sorted(e["entry"] for e in reply.json()["results"].get("entries", []))

    def admitted(self, ip, srcintf="port1", dest=None, port=443, vdom="root"):
        """The policy id that admits traffic from ``ip`` (0: the implicit deny), per policy-lookup."""
        params = {"srcintf": srcintf, "sourceip": ip, "dest": dest or "10.0.0.10", "destport": port,
                  "protocol": 6, "vdom": vdom}
        if ":" in ip:  # FortiOS looks IPv6 up only with ipv6=true (and an IPv6 destination)
            params.update(ipv6="true", dest=dest or "2001:db8:10::10")
        reply = self.get("/api/v2/monitor/firewall/policy-lookup", params=params)
        reply.raise_for_status()
        results = reply.json()["results"]
        action = results.get("policy_action", results.get("action", "accept"))  # the lab says policy_action
        if not results.get("success") or action != "accept":
            return 0
        return results.get("policy_id", 0)

    # FortiManager helpers
    def rpc(self, method, url, **param):
        param["url"] = url
        reply = self.post("/jsonrpc", json={"id": 1, "method": method, "params": [param]})
        reply.raise_for_status()
        return reply.json()["result"][0]


class LabView:
    """The lab as tests see it: devices over HTTPS, and the control endpoint."""

    def __init__(self, lab):
        self.lab = lab
        self.state = lab.describe()
        self.control_url = self.state["control_url"]

    def device(self, name, token=None):
        return DeviceView(self.lab, name, token)

    def info(self, name):
        return self.state["devices"][name]

    def connection(self, device, token=None, **extra):
        """A module's connection options for ``device`` (its name), as the README's TLS recipe gives them for
        its certificate: its URL, the token named ``token`` (a key of the device's ``tokens``, else taken
        as the token itself; default: the admin token), the device's trust anchor as ``ca_path``
        (Fortinet_CA_SSL, or the self-signed Fortinet_Factory/Fortinet_Local itself) and, when the URL's
        host is not in the certificate, the name that is (the serial) as ``tls_server_name``; ``extra``
        is added as is (a key set to None is left out)."""
        info = self.info(device)
        tokens = info.get("tokens") or {}
        args = {"url": info["url"], "token": tokens.get(token, token) if token else info["admin_token"],
                "ca_path": info.get("ca_path") or self.state["ca_path"]}
        server_name = info.get("tls_server_name") or info.get("serial")
        if server_name and server_name != urlsplit(info["url"]).hostname:
            args["tls_server_name"] = server_name
        args.update(extra)
        return dict((k, v) for k, v in args.items() if v is not None)

    def control(self, method, path, body=None):
        reply = requests.request(method, self.control_url + path, json=body, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def fault(self, device, **fault):
        return self.control("POST", "/devices/%s/faults" % device, fault)

    def writes(self, device):
        return self.control("GET", "/devices/%s/counters" % device)["writes"]

    def counters(self):
        return self.control("GET", "/counters")

    def advance(self, seconds):
        return self.control("POST", "/clock/advance", {"seconds": seconds})

    def login_allowed(self, fmg, user, ip):
        return self.control("POST", "/devices/%s/login-check" % fmg, {"user": user, "ip": ip})["allowed"]

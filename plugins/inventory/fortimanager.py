# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
name: fortimanager
short_description: FortiGates managed by a FortiManager, as inventory hosts
version_added: 0.1.0
description:
  - Reads the FortiGates that a FortiManager manages (C(/dvmdb/adom/<adom>/device)) and their device groups
    (C(/dvmdb/adom/<adom>/group)) over JSON-RPC, with an API key, and makes one inventory host per FortiGate.
  - Each host gets facts about the device (serial number, firmware, platform, management address, connection status, VDOMs,
    ADOM, device groups, meta fields) and the connection variables that the collection's modules take, either to reach the
    FortiGate B(through this FortiManager) (its C(/sys/proxy/json) proxy; O(connection=fortimanager), the default) or
    B(directly) (O(connection=direct)).
  - The plugin never writes a token into the inventory. Give the modules their token with C(fortigate_token) or
    C(fortimanager_token) in C(group_vars) (ideally from Ansible Vault), or through the E(FORTIGATE_TOKEN) and
    E(FORTIMANAGER_TOKEN) environment variables.
  - "Host variables set on every host: C(fortigate_serial), C(fortigate_version) (for example V(7.4.4)), C(fortigate_build),
    C(fortigate_platform), C(fortigate_hostname), C(fortigate_management_ip), C(fortigate_conn_status) (V(up), V(down) or
    V(unknown)), C(fortigate_vdoms), C(fortigate_vdom) (V(root) if the device has it, else its first VDOM),
    C(fortimanager_device_name), C(fortimanager_adom), C(fortimanager_device_groups) (every device group that holds the
    device, nested groups included) and C(fortimanager_meta_fields)."
  - "With O(connection=fortimanager): C(fortigate_use_fortimanager=true), C(fortimanager_url), C(fortimanager_target)
    (the proxy target C(adom/<adom>/device/<name>)) and the TLS options set in the source file (or by default):
    C(fortimanager_validate_certs), C(fortimanager_ca_path), C(fortimanager_tls_server_name), C(fortimanager_tls_fingerprint).
    TLS options from environment variables are left to the modules, which read the same variables (in AWX the CA file of
    an inventory update is gone when a job runs)."
  - "With O(connection=direct): C(fortigate_use_fortimanager=false), C(fortigate_url) and C(fortigate_tls_server_name).
    Set the other TLS options for the FortiGates (C(fortigate_ca_path), C(fortigate_validate_certs)...) in C(group_vars)."
  - "Inventory groups: one per ADOM (O(adom_group_prefix) + the ADOM name) and one per device group of FortiManager
    (O(device_group_prefix) + its name); a device group nested in another is a child group. The default group
    C(All_FortiGate) is left out: the ADOM's group holds the same devices."
  - The inventory source is a YAML file whose name ends in C(fortimanager.yml) or C(fortimanager.yaml).
author:
  - Knocknoc.fortinet contributors (@knocknoc)
requirements:
  - requests (Python library, on the Ansible controller)
  - FortiManager 7.2.2 or later (API keys)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
notes:
  - The API user needs read access to the Device Manager (C(device-manager) or C(device-config) read in its admin profile,
    C(rpc-permit) V(read) is enough) and access to the ADOMs to list.
  - One JSON-RPC request lists the ADOMs (unless O(adoms) is set), then two per ADOM (devices, device groups).
  - Device group names are global in the inventory. Groups with the same name in two ADOMs become one inventory group
    unless O(device_group_prefix) tells them apart.
options:
  plugin:
    description: The name of this plugin; it must be V(knocknoc.fortinet.fortimanager).
    type: str
    required: true
    choices: [knocknoc.fortinet.fortimanager]
  url:
    description:
      - Base URL of FortiManager, for example V(https://fmg.example.com); JSON-RPC calls go to C(/jsonrpc).
      - Must start with V(https://) and must not contain credentials.
    type: str
    required: true
    env:
      - name: FORTIMANAGER_URL
  token:
    description:
      - API key of a FortiManager API administrator, sent in the C(Authorization) header as a bearer token (never in the URL).
      - It is used only to read the device list; it is not written into the inventory nor shown in any output.
      - Use Ansible Vault (C(!vault)) in the inventory file, or the environment variable.
    type: str
    required: true
    env:
      - name: FORTIMANAGER_TOKEN
  validate_certs:
    description:
      - Verify the TLS certificate of the FortiManager. Prefer O(ca_path), O(tls_server_name) or O(tls_fingerprint) to V(false).
    type: bool
    default: true
    env:
      - name: FORTIMANAGER_VALIDATE_CERTS
  ca_path:
    description: PEM file (or directory) with the CA certificate(s) that signed the FortiManager certificate.
    type: path
    env:
      - name: FORTIMANAGER_CA_PATH
  tls_server_name:
    description:
      - Verify the certificate against this name instead of the host in O(url), and send it as TLS SNI (Fortinet appliances carry
        their serial number in their certificate).
    type: str
    env:
      - name: FORTIMANAGER_TLS_SERVER_NAME
  tls_fingerprint:
    description:
      - Pin the SHA-256 fingerprint of the FortiManager certificate, as V(AA:BB:...) or 64 hex digits; several pins (a
        certificate rotation) match any of them. With a pin the certificate chain need not verify.
      - The environment variable takes pins separated by commas.
    type: list
    elements: str
    env:
      - name: FORTIMANAGER_TLS_FINGERPRINT
  timeout:
    description: Seconds to wait for the connection and for each answer.
    type: int
    default: 10
    env:
      - name: FORTIMANAGER_TIMEOUT
  retries:
    description: How many times a request that failed to connect, or got HTTP 429/502/503/504, is repeated (with backoff).
    type: int
    default: 3
  adoms:
    description:
      - The ADOMs to read. By default every FortiGate ADOM (C(restricted_prds) V(fos)) the API user may see.
    type: list
    elements: str
    default: []
  device_groups:
    description:
      - Keep only the FortiGates that are members of at least one of these device groups (directly or through a nested
        group). By default every FortiGate is kept.
    type: list
    elements: str
    default: []
  filters:
    description:
      - Jinja2 conditionals, evaluated against the host variables this plugin sets (before O(compose)); a FortiGate becomes
        a host only when every one of them is true, for example V(fortigate_conn_status == 'up').
    type: list
    elements: str
    default: []
  connection:
    description:
      - How the collection's modules reach each FortiGate.
      - V(fortimanager) sets the variables for FortiManager's proxy (C(fortigate_use_fortimanager=true), C(fortimanager_url),
        C(fortimanager_adom), C(fortimanager_target)).
      - V(direct) sets C(fortigate_url) from the device's management address (or O(direct_url_meta_field)).
    type: str
    choices: [fortimanager, direct]
    default: fortimanager
  direct_port:
    description:
      - With O(connection=direct), the HTTPS administration port of the FortiGates, added to their management address in
        C(fortigate_url) when it is not 443. FortiManager does not know this port.
    type: int
    default: 443
  direct_url_meta_field:
    description:
      - With O(connection=direct), the name of a device meta field of FortiManager that holds each FortiGate's URL (for
        example V(https://fw1.example.com:8443)). A device whose field is empty falls back to its management address.
    type: str
  direct_tls_server_name:
    description:
      - With O(connection=direct), what C(fortigate_tls_server_name) is set to.
      - V(serial) is the FortiGate's serial number, the only name its C(Fortinet_Factory) certificate carries (the
        certificate FortiOS serves before 7.2.1).
      - V(none) leaves the variable unset, so the certificate is checked against the host in C(fortigate_url). That suits the
        C(Fortinet_GUI_Server) certificate of FortiOS 7.2.1 and later (it names the addresses of the HTTPS interfaces) and
        certificates issued to the FortiGate's host name.
      - V(auto) is V(serial) for a FortiGate whose firmware is older than 7.2.1, else V(none).
      - The certificate's issuer (C(fortigate_ca_path)) or fingerprint (C(fortigate_tls_fingerprint)) is yours to set.
    type: str
    choices: [auto, serial, none]
    default: auto
  connection_local:
    description:
      - Set C(ansible_connection=local) on every host. The collection's modules send HTTPS requests from the controller;
        a FortiGate runs no Python.
    type: bool
    default: true
  adom_group_prefix:
    description: Prefix of the inventory group made for each ADOM.
    type: str
    default: adom_
  device_group_prefix:
    description: Prefix of the inventory groups made for FortiManager's device groups.
    type: str
    default: ""
"""

EXAMPLES = r"""
# fleet.fortimanager.yml: every FortiGate of FortiManager, reached through its proxy.
# FORTIMANAGER_TOKEN holds the API key (or use token: !vault | ...).
plugin: knocknoc.fortinet.fortimanager
url: https://fmg.example.com
ca_path: /etc/ssl/private-ca.pem
tls_server_name: FMG-VM0000000001

# Only the branches of ADOM emea that are up, reached directly on port 8443, with extra groups per firmware.
plugin: knocknoc.fortinet.fortimanager
url: https://fmg.example.com
adoms: [emea]
device_groups: [branches]
filters:
  - fortigate_conn_status == 'up'
connection: direct
direct_port: 8443
keyed_groups:
  - key: fortigate_version.split('.')[:2] | join('_')
    prefix: fortios
compose:
  fortigate_vdom: "'dmz' if 'dmz' in fortigate_vdoms else 'root'"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/knocknoc-fortimanager
cache_timeout: 3600

# Then, in group_vars/all.yml, the token the modules use (never written by the plugin):
#   fortimanager_token: "{{ vault_fortimanager_token }}"
# and: ansible-inventory -i fleet.fortimanager.yml --graph
"""

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import FortiManagerClient

# The default group of every FortiGate ADOM (reference G4): the ADOM's inventory group has the same devices.
DEFAULT_GROUP_TYPE = "default"
# conn_status without verbose (reference G4: 1 = up; the others as the FortiManager GUI names them).
CONN_STATUS = {0: "unknown", 1: "up", 2: "down"}
TLS_OPTIONS = ("validate_certs", "ca_path", "tls_server_name", "tls_fingerprint")


def firmware_version(device):
    """``os_ver``/``mr``/``patch`` as ``7.4.4``. ``os_ver`` is ``7`` without verbose and ``"7.0"`` with it."""
    major = str(device.get("os_ver", "")).split(".", maxsplit=1)[0]
    if not major.isdigit():
        return None
    return "%s.%s.%s" % (major, device.get("mr") or 0, device.get("patch") or 0)


def conn_status(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return CONN_STATUS.get(value, "unknown")
    return str(value or "unknown").lower()


def group_index(groups):
    """From a ``get .../group`` reply (with ``object member``): the direct device members of each
    group, its child groups, and, per device, every group that holds it (nesting followed).

    A member with a ``vdom`` is a device; one without is a nested group when a group has that name
    (FortiManager's own listing, HOWTO 007 "get all device groups a device belongs to"), else a device.
    """
    names = set(g.get("name") for g in groups if isinstance(g, dict) and g.get("name"))
    devices, children = {}, {}
    for group in groups:
        if not isinstance(group, dict) or not group.get("name") or group.get("type") == DEFAULT_GROUP_TYPE \
                or group.get("name") == "All_FortiGate":
            continue
        name = group["name"]
        devices[name], children[name] = [], []
        for member in group.get("object member") or []:
            member_name = member.get("name") if isinstance(member, dict) else member
            if not member_name:
                continue
            if isinstance(member, dict) and "vdom" not in member and member_name in names:
                children[name].append(member_name)
            elif member_name not in devices[name]:
                devices[name].append(member_name)

    holders = {}

    def collect(group, seen):
        found = set(devices.get(group, ()))
        for child in children.get(group, ()):
            if child not in seen:
                found |= collect(child, seen | {child})
        return found

    for group in devices:
        for device in collect(group, {group}):
            holders.setdefault(device, set()).add(group)
    return devices, children, dict((d, sorted(g)) for d, g in holders.items())


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "knocknoc.fortinet.fortimanager"
    # TLS options set by an environment variable in this run, and whether it is non-empty (parse() fills it).
    _tls_from_environment = {}

    def verify_file(self, path):
        if not super(InventoryModule, self).verify_file(path):
            return False
        return path.endswith(("fortimanager.yml", "fortimanager.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        self._tls_from_environment = self._environment_tls_options()
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        data = None
        if use_cache:
            try:
                data = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if data is None:
            data = self.fetch()
        if update_cache:
            # Only FortiManager's device and group listings go to the cache, never the token.
            self._cache[cache_key] = data
        self.populate(data)

    def _environment_tls_options(self):
        """The TLS options that environment variables set, rather than the source file. They hold for this run only:
        AWX's credential injectors write the CA to a file of the inventory update, gone when a job runs (whose own
        credential sets FORTIMANAGER_CA_PATH again, and the modules read it), and set a variable empty for a field left
        blank (which Ansible's path type would turn into the working directory). So they never go into the hosts'
        variables, and an empty one counts as unset, as the modules take it."""
        found = {}
        for name in TLS_OPTIONS:
            origin = to_text(self.get_option_and_origin(name)[1])
            if origin.startswith("env:"):
                found[name] = bool(os.environ.get(origin[4:].strip()))
        return found

    # -- reading FortiManager --------------------------------------------------------------------
    def _client(self):
        params = dict((name, self.get_option(name)) for name in TLS_OPTIONS + ("url", "timeout", "retries"))
        for name, given in self._tls_from_environment.items():
            if not given:
                params[name] = None
        token = self.get_option("token")
        # A vaulted token arrives as an encrypted string object; the client wants its text.
        params["token"] = to_text(token) if token is not None else None
        params["adom"] = "root"
        return FortiManagerClient.from_params(params)

    def fetch(self):
        """FortiManager's ADOMs with their devices and device groups: ``{"adoms": [{"name",
        "devices", "groups"}]}``, as FortiManager sent them (JSON, cacheable)."""
        try:
            client = self._client()
            try:
                adoms = list(self.get_option("adoms") or [])
                if not adoms:
                    listed = client.call("get", "/dvmdb/adom", fields=["name", "restricted_prds"],
                                         filter=["restricted_prds", "==", "fos"]) or []
                    adoms = [a["name"] for a in listed if isinstance(a, dict) and a.get("name")]
                result = []
                for adom in adoms:
                    devices = client.call("get", "/dvmdb/adom/%s/device" % adom, option=["get meta"]) or []
                    groups = client.call("get", "/dvmdb/adom/%s/group" % adom, option=["object member"]) or []
                    result.append({"name": adom, "devices": devices, "groups": groups})
            finally:
                client.close()
        except KnocknocError as err:
            # KnocknocError scrubs the token from everything it says.
            raise AnsibleError("knocknoc.fortinet.fortimanager: %s" % err)
        return {"adoms": result}

    # -- building the inventory ------------------------------------------------------------------
    def host_vars(self, device, adom, device_groups):
        """The variables of one FortiGate (before compose), connection variables included."""
        name = device["name"]
        vdoms = [v.get("name") for v in device.get("vdom") or [] if isinstance(v, dict) and v.get("name")]
        address = device.get("ip") or ""
        host = {
            "fortigate_serial": device.get("sn"),
            "fortigate_version": firmware_version(device),
            "fortigate_build": device.get("build"),
            "fortigate_platform": device.get("platform_str"),
            "fortigate_hostname": device.get("hostname") or name,
            "fortigate_management_ip": address,
            "fortigate_conn_status": conn_status(device.get("conn_status")),
            "fortigate_vdoms": vdoms,
            "fortigate_vdom": "root" if "root" in vdoms or not vdoms else vdoms[0],
            "fortimanager_device_name": name,
            "fortimanager_adom": adom,
            "fortimanager_device_groups": list(device_groups),
            "fortimanager_meta_fields": dict(device.get("meta fields") or {}),
        }
        if self.get_option("connection") == "fortimanager":
            host["fortigate_use_fortimanager"] = True
            host["fortimanager_url"] = self.get_option("url")
            host["fortimanager_target"] = "adom/%s/device/%s" % (adom, name)
            for option in TLS_OPTIONS:
                value = self.get_option(option)
                if value is not None and option not in self._tls_from_environment:
                    host["fortimanager_" + option] = value
        else:
            host["fortigate_use_fortimanager"] = False
            url = None
            field = self.get_option("direct_url_meta_field")
            if field:
                url = host["fortimanager_meta_fields"].get(field) or None
            if not url and address:
                port = self.get_option("direct_port")
                url = "https://%s%s" % ("[%s]" % address if ":" in address else address,
                                        "" if port == 443 else ":%d" % port)
            if url:
                host["fortigate_url"] = url
            if self._serial_names_certificate(host["fortigate_version"]) and device.get("sn"):
                host["fortigate_tls_server_name"] = device["sn"]
        if self.get_option("connection_local"):
            host["ansible_connection"] = "local"
        return host

    def _serial_names_certificate(self, version):
        choice = self.get_option("direct_tls_server_name")
        if choice != "auto":
            return choice == "serial"
        # FortiOS serves Fortinet_Factory (CN = serial) before 7.2.1, Fortinet_GUI_Server (IP SANs) from 7.2.1.
        try:
            return tuple(int(p) for p in version.split(".")) < (7, 2, 1)
        except (AttributeError, ValueError):
            return True  # firmware unknown: the factory certificate is the safe guess

    def keep(self, host):
        for condition in self.get_option("filters") or []:
            try:
                if not self._compose(condition, host):
                    return False
            except Exception as exc:
                raise AnsibleError("knocknoc.fortinet.fortimanager: filter %r failed for %s: %s"
                                   % (condition, host.get("fortimanager_device_name"), to_text(exc)))
        return True

    def populate(self, data):
        strict = self.get_option("strict")
        wanted_groups = set(self.get_option("device_groups") or [])
        group_prefix = self.get_option("device_group_prefix") or ""
        no_address = []
        for adom in data.get("adoms") or []:
            adom_name = adom["name"]
            members, children, holders = group_index(adom.get("groups") or [])
            adom_group = None
            in_use = set()  # device groups holding a kept host, nesting followed
            for device in adom.get("devices") or []:
                if not isinstance(device, dict) or not device.get("name"):
                    continue
                name = device["name"]
                groups = holders.get(name, [])
                if wanted_groups and not wanted_groups.intersection(groups):
                    continue
                hostvars = self.host_vars(device, adom_name, groups)
                if not self.keep(hostvars):
                    continue
                if self.get_option("connection") == "direct" and "fortigate_url" not in hostvars:
                    no_address.append(name)
                if adom_group is None:
                    adom_group = self.inventory.add_group(
                        self._sanitize_group_name(self.get_option("adom_group_prefix") + adom_name))
                self.inventory.add_host(name, group=adom_group)
                for key, value in hostvars.items():
                    self.inventory.set_variable(name, key, value)
                in_use.update(groups)
                for group in groups:
                    if name in members[group]:
                        self.inventory.add_child(self._device_group(group_prefix, group), name)
                self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
                self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name, strict=strict)
                self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name, strict=strict)
            # Nested device groups become child groups (only groups that hold a host of this inventory).
            for parent in sorted(in_use):
                for kid in children[parent]:
                    if kid not in in_use:
                        continue
                    try:
                        self.inventory.add_child(self._device_group(group_prefix, parent),
                                                 self._device_group(group_prefix, kid))
                    except AnsibleError as exc:  # a loop of groups on FortiManager
                        self.display.warning("knocknoc.fortinet.fortimanager: device group %s in %s: %s"
                                             % (kid, parent, to_text(exc)))
        if no_address:
            self.display.warning("knocknoc.fortinet.fortimanager: no management address (so no fortigate_url) for: %s"
                                 % ", ".join(sorted(no_address)))

    def _device_group(self, prefix, group):
        return self.inventory.add_group(self._sanitize_group_name(prefix + group))

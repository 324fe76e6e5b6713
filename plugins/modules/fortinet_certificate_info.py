#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: fortinet_certificate_info
short_description: The TLS certificate a FortiGate or FortiManager presents, and whether given TLS options accept it
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Connects to the device at O(url), shakes hands over TLS and returns the certificate it presents (subject,
    subjectAltNames, issuer, validity, SHA-256 fingerprint, PEM) and the CA certificate it sends along, if any
    (FortiOS 7.2.1 and later send their C(Fortinet_CA_SSL)). No HTTP request is sent and no token is needed.
  - Says whether the collection's modules would accept the certificate with the given O(ca_path), O(tls_server_name) and
    O(tls_fingerprint), with the same checks they make, and which O(tls_server_name) the certificate needs.
  - Meant for pinning on first use, and for finding out what to set per firmware. The certificate of FortiOS before 7.2.1
    (C(Fortinet_Factory)) and of FortiManager (C(Fortinet_Local)) carries the serial number as its subject CN and has no
    subjectAltName; trust it with O(ca_path) (the certificate itself) and O(tls_server_name) (the serial), or pin it. The
    C(Fortinet_GUI_Server) certificate of FortiOS 7.2.1 and later names the HTTPS interface addresses and is signed by
    the device's C(Fortinet_CA_SSL); trust that CA with O(ca_path) and use one of the addresses in O(url).
  - What a first connection shows can come from anyone on the network path. Compare the fingerprint with the one the
    device's console shows (System > Certificates, or C(diagnose sys certificate) / C(get vpn certificate local details))
    before trusting it.
  - O(token), O(vdom) and O(adom) are accepted, so that the module takes the connection of the C(fortigate) and
    C(fortimanager) action groups' C(module_defaults), and not used.
extends_documentation_fragment:
  - knocknoc.fortinet.fortinet
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.INFO_MODULE
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTINET
options:
  use_fortimanager:
    description:
      - Take the connection from the FortiManager side (O(fortimanager), E(FORTIMANAGER_URL)...) instead of the FortiGate
        side.
    type: bool
    default: false
requirements:
  - cryptography (Python library, on the host that runs the module; it ships with ansible-core)
notes:
  - O(validate_certs) and O(retries) have no effect; O(timeout) bounds the connection and each handshake.
seealso:
  - module: knocknoc.fortinet.fortigate_object_info
"""

EXAMPLES = r"""
# Pin on first use: read the fingerprint once, check it against the console, keep it, use it.
- name: What does the FortiGate present?
  knocknoc.fortinet.fortinet_certificate_info:
    url: https://192.0.2.1
  register: presented

- name: Show it, to compare with System > Certificates on the device
  ansible.builtin.debug:
    msg: >-
      {{ presented.certificate.subject_cn }} issued by {{ presented.certificate.issuer_cn }},
      SHA-256 {{ presented.certificate.sha256 }}, names {{ presented.certificate.subject_alt_names }}

- name: Keep the device's trust anchor (its Fortinet_CA_SSL, or the self-signed factory certificate)
  ansible.builtin.copy:
    content: "{{ presented.trust_anchor_pem }}"
    dest: "files/{{ inventory_hostname }}-ca.pem"
    mode: "0644"
  when: presented.trust_anchor_pem is not none

- name: From now on, verify the device with it
  knocknoc.fortinet.fortigate_dynamic_entry:
    url: https://192.0.2.1
    token: "{{ fortigate_api_key }}"
    ca_path: "files/{{ inventory_hostname }}-ca.pem"
    tls_server_name: "{{ presented.tls_server_name | default(omit, true) }}"
    name: knocknoc_allow
    entries: [198.51.100.7]

- name: Or pin the fingerprint (a list, so a rotation can add the next one before the device switches)
  knocknoc.fortinet.fortigate_dynamic_entry:
    url: https://192.0.2.1
    token: "{{ fortigate_api_key }}"
    tls_fingerprint:
      - "{{ presented.certificate.sha256 }}"
    name: knocknoc_allow
    entries: [198.51.100.7]

- name: Would FortiManager's factory certificate pass with its serial and the saved certificate?
  knocknoc.fortinet.fortinet_certificate_info:
    use_fortimanager: true
    fortimanager:
      url: https://fmg.example.com
      ca_path: files/fmg-local.pem
      tls_server_name: FMG-VM0000000001
  register: fmg_tls
  failed_when: not fmg_tls.verification.accepted
"""

RETURN = r"""
certificate:
  description: The certificate the device presents (the leaf).
  returned: success
  type: dict
  contains:
    subject:
      description: Subject attributes by name (C(commonName), C(organizationName)...).
      type: dict
      sample: {"commonName": "FGVM01TM24000003", "organizationName": "Fortinet", "organizationalUnitName": "FortiGate"}
    subject_cn:
      description: The subject's common name (the serial number on C(Fortinet_Factory) and C(Fortinet_Local)).
      type: str
      sample: FGVM01TM24000003
    subject_alt_names:
      description: The subjectAltNames, as V(DNS:name) and V(IP:address); empty when there are none.
      type: list
      elements: str
      sample: ["IP:192.0.2.1"]
    issuer:
      description: Issuer attributes by name.
      type: dict
    issuer_cn:
      description: The issuer's common name (the serial number for a C(Fortinet_CA_SSL)-signed certificate).
      type: str
    self_signed:
      description: Whether subject and issuer are the same (the certificate is its own trust anchor).
      type: bool
    is_ca:
      description: Whether the certificate is a CA certificate (basicConstraints).
      type: bool
    serial_number:
      description: The certificate's serial number, in hex.
      type: str
    not_before:
      description: Start of validity, UTC, ISO 8601.
      type: str
      sample: "2026-01-01T00:00:00Z"
    not_after:
      description: End of validity, UTC, ISO 8601.
      type: str
      sample: "2028-04-05T00:00:00Z"
    expired:
      description: Whether the certificate has expired.
      type: bool
    days_left:
      description: Whole days until it expires (negative when expired).
      type: int
    sha256:
      description: The SHA-256 fingerprint, as O(tls_fingerprint) takes it.
      type: str
      sample: "A6:65:B1:8D:7D:88:DC:48:CC:67:A8:18:F1:08:6F:1C:7C:05:47:1A:16:D6:6A:06:59:C3:10:64:8E:E1:05:E7"
    pem:
      description: The certificate in PEM.
      type: str
ca:
  description:
    - The last certificate of the chain the device sends, when it sends more than its own (FortiOS 7.2.1 and later send
      their C(Fortinet_CA_SSL)), with the same keys as RV(certificate); null when the device sends its certificate alone.
    - Read from an unverified connection, so compare its fingerprint with the console of the device before saving it as
      O(ca_path).
  returned: success
  type: dict
chain_length:
  description: How many certificates the device sent.
  returned: success
  type: int
  sample: 2
trust_anchor_pem:
  description:
    - What to save as O(ca_path) for this device, in PEM; the CA the device sent (RV(ca)), else the certificate itself when
      it is self-signed, else null (a certificate from a CA that the device does not send).
  returned: success
  type: str
tls_server_name:
  description:
    - The O(tls_server_name) this certificate needs with this O(url); null when the URL's host is one of its
      subjectAltNames (no O(tls_server_name) needed). For a certificate without subjectAltNames, its subject CN.
  returned: success
  type: str
  sample: FGVM01TM24000003
verification:
  description: Whether the collection's modules would accept the certificate with the given options.
  returned: success
  type: dict
  contains:
    ca_path:
      description: The O(ca_path) checked against; null means the system's CAs.
      type: str
    chain_verified:
      description: Whether the chain verifies against O(ca_path) (or the system's CAs).
      type: bool
    chain_error:
      description: Why it does not, as OpenSSL says; null when it does.
      type: str
    name:
      description: The name checked (O(tls_server_name), else the URL's host).
      type: str
    name_matches:
      description:
        - Whether the certificate carries that name; in its subjectAltNames or, with O(tls_server_name) and a certificate
          without any, as its subject CN.
      type: bool
    fingerprint_matches:
      description: With O(tls_fingerprint), whether one of the pins is the certificate's SHA-256; else null.
      type: bool
    accepted:
      description:
        - The verdict of the modules with these options. With O(tls_fingerprint), the pin decides; else the chain and the
          name must both pass. When false, the modules fail with agent error 202003.
      type: bool
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.knocknoc.fortinet.plugins.module_utils._certificate import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
    certificate_report,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import (
    FORTIGATE,
    FORTIMANAGER,
    fortinet_argspec,
    resolve_connection,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def main():
    module = KnocknocModule(argument_spec=fortinet_argspec(), supports_check_mode=True)
    check_module(module, "fortinet_certificate_info")
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    try:
        # Only the URL is required: no request is sent, so no token.
        p = resolve_connection(module.params, FORTIMANAGER if module.params["use_fortimanager"] else FORTIGATE,
                               require=("url",))
        report = certificate_report(p["url"], ca_path=p["ca_path"], tls_server_name=p["tls_server_name"],
                                    tls_fingerprint=p["tls_fingerprint"], timeout=p["timeout"])
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()

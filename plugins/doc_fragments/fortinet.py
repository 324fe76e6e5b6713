# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment(object):
    """Connection options of modules that reach a FortiGate directly or through FortiManager.

    Mirrors ``fortinet_argspec()`` in ``plugins/module_utils/_connection.py``: no option has a default nor a
    fallback in the argument spec, ``resolve_connection()`` applies them at run time (option, then
    the API's dict, then the environment, then the default).
    """

    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the FortiGate (O(use_fortimanager=false)) or of FortiManager (O(use_fortimanager=true)), for example
        V(https://fw.example.com).
      - Must start with V(https://) and must not contain credentials.
      - If not set, O(fortimanager.url) (with O(use_fortimanager=true)) or O(fortigate.url), then E(FORTIMANAGER_URL) or
        E(FORTIGATE_URL) is used; one of them is required.
    type: str
  token:
    description:
      - API key of the FortiGate REST API administrator or of the FortiManager API administrator, sent in the C(Authorization)
        header as a bearer token (never in the URL).
      - If not set, O(fortimanager.token) (with O(use_fortimanager=true)) or O(fortigate.token), then E(FORTIMANAGER_TOKEN) or
        E(FORTIGATE_TOKEN) is used; one of them is required.
    type: str
  vdom:
    description:
      - The FortiGate VDOM to work in.
      - If not set, O(fortigate.vdom), then the E(FORTIGATE_VDOM) environment variable is used, else V(root).
    type: str
  adom:
    description:
      - The FortiManager administrative domain (ADOM) to work in (only with O(use_fortimanager=true)).
      - If not set, O(fortimanager.adom), then the E(FORTIMANAGER_ADOM) environment variable is used, else V(root).
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of the FortiGate or FortiManager.
      - V(false) accepts any certificate (Knocknoc's C(Insecure) setting); prefer O(ca_path), O(tls_server_name) or
        O(tls_fingerprint).
      - If not set, O(fortimanager.validate_certs) (with O(use_fortimanager=true)) or O(fortigate.validate_certs), then
        E(FORTIMANAGER_VALIDATE_CERTS) or E(FORTIGATE_VALIDATE_CERTS) is used, else V(true).
    type: bool
  ca_path:
    description:
      - PEM file (or directory) with the CA certificate(s) that signed the certificate of the FortiGate or FortiManager, for a
        private CA (or the device's own certificate when it is self-signed).
      - For FortiOS 7.2.1 and later, the device's C(Fortinet_CA_SSL) CA certificate (System > Certificates, or C(show vpn certificate
        local Fortinet_CA_SSL)). For FortiOS before 7.2.1 and FortiManager, the C(Fortinet_Factory) or C(Fortinet_Local)
        certificate itself, with O(tls_server_name) set to the serial number.
      - If not set, O(fortimanager.ca_path) (with O(use_fortimanager=true)) or O(fortigate.ca_path), then
        E(FORTIMANAGER_CA_PATH) or E(FORTIGATE_CA_PATH) is used.
    type: path
  tls_server_name:
    description:
      - Verify the certificate against this name instead of the host in O(url), and send it as TLS SNI.
      - The name is looked for in the certificate's subjectAltNames or, in a certificate without any, in its subject CN; the
        factory certificates of FortiOS before 7.2.1 (C(Fortinet_Factory)) and of FortiManager (C(Fortinet_Local)) carry the
        serial number (for example V(FGVM01TM24000001)) as their CN only, so set the serial here and the device's certificate
        in O(ca_path). The certificate chain is always verified.
      - Not needed for the C(Fortinet_GUI_Server) certificate of FortiOS 7.2.1 and later when O(url) uses one of the IP
        addresses it names (the addresses of the HTTPS-enabled interfaces); it does not carry the serial number.
      - Ignored with O(tls_fingerprint) (the pin is checked instead) and with O(validate_certs=false).
      - If not set, O(fortimanager.tls_server_name) (with O(use_fortimanager=true)) or O(fortigate.tls_server_name), then
        E(FORTIMANAGER_TLS_SERVER_NAME) or E(FORTIGATE_TLS_SERVER_NAME) is used.
    type: str
  tls_fingerprint:
    description:
      - Pin the SHA-256 fingerprint of the certificate of the FortiGate or FortiManager, as V(AA:BB:...) or 64 hex digits
        (C(openssl x509 -noout -fingerprint -sha256) output is accepted); the certificate must match one of the pins.
      - A list of pins, of which any may match, lets a certificate be replaced without a failed run (put the new fingerprint
        next to the old one first). A single string is a list of one; in the environment variable, separate pins with commas.
      - With a pin the certificate chain and name are not verified, so a self-signed certificate works without
        O(validate_certs=false). M(knocknoc.fortinet.fortinet_certificate_info) shows the fingerprint a device presents.
      - The C(Fortinet_GUI_Server) certificate of FortiOS 7.2.1 and later is made again when an HTTPS interface address or the
        device CA changes, and its pin then no longer matches; O(ca_path) with the device's C(Fortinet_CA_SSL) does not expire so.
      - If not set, O(fortimanager.tls_fingerprint) (with O(use_fortimanager=true)) or O(fortigate.tls_fingerprint), then
        E(FORTIMANAGER_TLS_FINGERPRINT) or E(FORTIGATE_TLS_FINGERPRINT) is used.
    type: list
    elements: str
  timeout:
    description:
      - Seconds to wait for the connection and for each answer (the Knocknoc agent waits 10 seconds).
      - If not set, O(fortimanager.timeout) (with O(use_fortimanager=true)) or O(fortigate.timeout), then
        E(FORTIMANAGER_TIMEOUT) or E(FORTIGATE_TIMEOUT) is used, else V(10).
    type: int
  retries:
    description:
      - How many times a failed request is repeated, with exponential backoff and jitter (at most 5 seconds per wait, honouring
        C(Retry-After)).
      - Retried are connections that could not be established (the request was never sent), and, for requests that are safe to
        repeat, dropped connections and HTTP 429, 502, 503 and 504. Timeouts and HTTP 401 and 403 are never retried.
      - If not set, O(fortimanager.retries) (with O(use_fortimanager=true)) or O(fortigate.retries) is used, else V(3).
    type: int
  use_fortimanager:
    description:
      - Go through FortiManager (JSON-RPC, C(/sys/proxy/json)) instead of talking to the FortiGate directly; the connection is
        then O(fortimanager)'s, not O(fortigate)'s.
    type: bool
    default: false
  fortigate:
    description:
      - The FortiGate connection as one dictionary, with the keys of the options of the same names (O(url), O(token), O(vdom),
        O(validate_certs), O(ca_path), O(tls_server_name), O(tls_fingerprint), O(timeout), O(retries)).
      - Meant for C(module_defaults) of C(group/knocknoc.fortinet.fortigate), so that one variable carries a whole connection.
      - Key by key, an option of the same name wins over this dictionary, and this dictionary over the environment variables.
      - With O(use_fortimanager=true) only O(fortigate.vdom) is used (the VDOM on the managed FortiGates).
    type: dict
    suboptions:
      url:
        description:
          - As O(url), for FortiGate.
        type: str
      token:
        description:
          - As O(token), for FortiGate.
        type: str
      vdom:
        description:
          - As O(vdom).
        type: str
      validate_certs:
        description:
          - As O(validate_certs), for FortiGate.
        type: bool
      ca_path:
        description:
          - As O(ca_path), for FortiGate.
        type: path
      tls_server_name:
        description:
          - As O(tls_server_name), for FortiGate.
        type: str
      tls_fingerprint:
        description:
          - As O(tls_fingerprint), for FortiGate.
        type: list
        elements: str
      timeout:
        description:
          - As O(timeout), for FortiGate.
        type: int
      retries:
        description:
          - As O(retries), for FortiGate.
        type: int
  fortimanager:
    description:
      - The FortiManager connection as one dictionary, with the keys of the options of the same names (O(url), O(token),
        O(adom), O(validate_certs), O(ca_path), O(tls_server_name), O(tls_fingerprint), O(timeout), O(retries)).
      - Meant for C(module_defaults) of C(group/knocknoc.fortinet.fortimanager), so that one variable carries a whole
        connection.
      - Key by key, an option of the same name wins over this dictionary, and this dictionary over the environment variables.
      - Used only with O(use_fortimanager=true).
    type: dict
    suboptions:
      url:
        description:
          - As O(url), for FortiManager.
        type: str
      token:
        description:
          - As O(token), for FortiManager.
        type: str
      adom:
        description:
          - As O(adom).
        type: str
      validate_certs:
        description:
          - As O(validate_certs), for FortiManager.
        type: bool
      ca_path:
        description:
          - As O(ca_path), for FortiManager.
        type: path
      tls_server_name:
        description:
          - As O(tls_server_name), for FortiManager.
        type: str
      tls_fingerprint:
        description:
          - As O(tls_fingerprint), for FortiManager.
        type: list
        elements: str
      timeout:
        description:
          - As O(timeout), for FortiManager.
        type: int
      retries:
        description:
          - As O(retries), for FortiManager.
        type: int
requirements:
  - requests (Python library, on the host that runs the module)
"""

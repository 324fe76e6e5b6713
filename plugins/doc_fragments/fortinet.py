# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment(object):
    """Connection options of modules that reach a FortiGate directly or through FortiManager.

    Mirrors ``fortinet_argspec()`` in ``plugins/module_utils/_fortimanager.py``; environment
    fallbacks and defaults are resolved at run time by ``connection_from_params()``.
    """

    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the FortiGate (O(use_fortimanager=false)) or of FortiManager (O(use_fortimanager=true)), for example
        V(https://fw.example.com).
      - Must start with V(https://) and must not contain credentials.
      - If not set, the value of E(FORTIMANAGER_URL) (with O(use_fortimanager=true)) or E(FORTIGATE_URL) is used; one of them is
        required.
    type: str
  token:
    description:
      - API key of the FortiGate REST API administrator or of the FortiManager API administrator, sent in the C(Authorization)
        header as a bearer token (never in the URL).
      - If not set, the value of E(FORTIMANAGER_TOKEN) (with O(use_fortimanager=true)) or E(FORTIGATE_TOKEN) is used; one of
        them is required.
    type: str
  use_fortimanager:
    description:
      - Go through FortiManager (JSON-RPC, C(/sys/proxy/json)) instead of talking to the FortiGate directly.
    type: bool
    default: false
  vdom:
    description:
      - The FortiGate VDOM to work in.
      - If not set, the value of the E(FORTIGATE_VDOM) environment variable is used, else V(root).
    type: str
  adom:
    description:
      - The FortiManager ADOM to work in (only with O(use_fortimanager=true)).
      - If not set, the value of the E(FORTIMANAGER_ADOM) environment variable is used, else V(root).
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of the FortiGate or FortiManager.
      - V(false) accepts any certificate (Knocknoc's C(Insecure) setting); prefer O(ca_path), O(tls_server_name) or
        O(tls_fingerprint).
    type: bool
  ca_path:
    description:
      - PEM file (or directory) with the CA certificate(s) that signed the FortiGate or FortiManager certificate, for a private
        CA.
    type: path
  tls_server_name:
    description:
      - Verify the certificate against this name instead of the host in O(url), and send it as TLS SNI.
      - Fortinet appliances carry their serial number (for example V(FGVM01TM24000001)) in their certificate, not their IP
        address.
    type: str
  tls_fingerprint:
    description:
      - Pin the SHA-256 fingerprint of the FortiGate or FortiManager certificate, as V(AA:BB:...) or 64 hex digits (C(openssl
        x509 -noout -fingerprint -sha256) output is accepted).
      - With a pin the certificate chain need not verify, so a self-signed certificate works without O(validate_certs=false).
    type: str
  timeout:
    description:
      - Seconds to wait for the connection and for each answer (the Knocknoc agent waits 10 seconds).
    type: int
  retries:
    description:
      - How many times a failed request is repeated, with exponential backoff and jitter (at most 5 seconds per wait, honouring
        C(Retry-After)).
      - Retried are connections that could not be established (the request was never sent), and, for requests that are safe to
        repeat,
        dropped connections and HTTP 429, 502, 503 and 504. Timeouts and HTTP 401 and 403 are never retried.
    type: int
notes:
  - Environment fallbacks are chosen at run time by O(use_fortimanager)
    (E(FORTIMANAGER_URL), E(FORTIMANAGER_TOKEN), E(FORTIMANAGER_ADOM), E(FORTIMANAGER_VALIDATE_CERTS), E(FORTIMANAGER_CA_PATH),
    E(FORTIMANAGER_TLS_SERVER_NAME), E(FORTIMANAGER_TLS_FINGERPRINT), E(FORTIMANAGER_TIMEOUT)
    when true, the E(FORTIGATE_*) equivalents and E(FORTIGATE_VDOM) when false).
  - When not set (neither directly nor by environment), O(validate_certs) is V(true), O(timeout) is V(10) and O(retries) is V(3).
requirements:
  - requests (Python library, on the host that runs the module)
"""

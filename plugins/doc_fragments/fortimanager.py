# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment(object):
    """Connection options of modules that talk to FortiManager (JSON-RPC).

    Mirrors ``fortimanager_argspec()`` in ``plugins/module_utils/_connection.py``: no option has a default nor a
    fallback in the argument spec, ``resolve_connection()`` applies them at run time (option, then
    the API's dict, then the environment, then the default).
    """

    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of FortiManager, for example V(https://fmg.example.com); JSON-RPC calls go to C(/jsonrpc).
      - Must start with V(https://) and must not contain credentials.
      - If not set, O(fortimanager.url), then the E(FORTIMANAGER_URL) environment variable is used; one of them is required.
    type: str
  token:
    description:
      - API key of a FortiManager API administrator (FortiManager 7.2.2 or later), sent in the C(Authorization) header as a
        bearer token (never in the URL).
      - If not set, O(fortimanager.token), then the E(FORTIMANAGER_TOKEN) environment variable is used; one of them is required.
    type: str
  adom:
    description:
      - The FortiManager administrative domain (ADOM) to work in.
      - If not set, O(fortimanager.adom), then the E(FORTIMANAGER_ADOM) environment variable is used, else V(root).
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of the FortiManager.
      - V(false) accepts any certificate (Knocknoc's C(Insecure) setting); prefer O(ca_path), O(tls_server_name) or
        O(tls_fingerprint).
      - If not set, O(fortimanager.validate_certs), then the E(FORTIMANAGER_VALIDATE_CERTS) environment variable is used, else
        V(true).
    type: bool
  ca_path:
    description:
      - PEM file (or directory) with the CA certificate(s) that signed the certificate of the FortiManager, for a private CA (or
        the device's own certificate when it is self-signed).
      - With the factory certificate (C(Fortinet_Local), self-signed), that certificate itself, with O(tls_server_name) set to
        the serial number.
      - If not set, O(fortimanager.ca_path), then the E(FORTIMANAGER_CA_PATH) environment variable is used.
    type: path
  tls_server_name:
    description:
      - Verify the certificate against this name instead of the host in O(url), and send it as TLS SNI.
      - The name is looked for in the certificate's subjectAltNames or, in a certificate without any, in its subject CN; the
        factory certificate of FortiManager (C(Fortinet_Local)) carries the serial number (for example V(FMG-VM0000000001)) as
        its CN only, so set the serial here and that certificate in O(ca_path). The certificate chain is always verified.
      - Ignored with O(tls_fingerprint) (the pin is checked instead) and with O(validate_certs=false).
      - If not set, O(fortimanager.tls_server_name), then the E(FORTIMANAGER_TLS_SERVER_NAME) environment variable is used.
    type: str
  tls_fingerprint:
    description:
      - Pin the SHA-256 fingerprint of the certificate of the FortiManager, as V(AA:BB:...) or 64 hex digits (C(openssl x509
        -noout -fingerprint -sha256) output is accepted); the certificate must match one of the pins.
      - A list of pins, of which any may match, lets a certificate be replaced without a failed run (put the new fingerprint
        next to the old one first). A single string is a list of one; in the environment variable, separate pins with commas.
      - With a pin the certificate chain and name are not verified, so a self-signed certificate works without
        O(validate_certs=false). M(knocknoc.fortinet.fortinet_certificate_info) shows the fingerprint a device presents.
      - If not set, O(fortimanager.tls_fingerprint), then the E(FORTIMANAGER_TLS_FINGERPRINT) environment variable is used.
    type: list
    elements: str
  timeout:
    description:
      - Seconds to wait for the connection and for each answer (the Knocknoc agent waits 10 seconds).
      - If not set, O(fortimanager.timeout), then the E(FORTIMANAGER_TIMEOUT) environment variable is used, else V(10).
    type: int
  retries:
    description:
      - How many times a failed request is repeated, with exponential backoff and jitter (at most 5 seconds per wait, honouring
        C(Retry-After)).
      - Retried are connections that could not be established (the request was never sent), and, for requests that are safe to
        repeat, dropped connections and HTTP 429, 502, 503 and 504. Timeouts and HTTP 401 and 403 are never retried.
      - If not set, O(fortimanager.retries) is used, else V(3).
    type: int
  fortimanager:
    description:
      - The FortiManager connection as one dictionary, with the keys of the options of the same names (O(url), O(token),
        O(adom), O(validate_certs), O(ca_path), O(tls_server_name), O(tls_fingerprint), O(timeout), O(retries)).
      - Meant for C(module_defaults) of C(group/knocknoc.fortinet.fortimanager), so that one variable carries a whole
        connection.
      - Key by key, an option of the same name wins over this dictionary, and this dictionary over the environment variables.
    type: dict
    suboptions:
      url:
        description:
          - As O(url).
        type: str
      token:
        description:
          - As O(token).
        type: str
      adom:
        description:
          - As O(adom).
        type: str
      validate_certs:
        description:
          - As O(validate_certs).
        type: bool
      ca_path:
        description:
          - As O(ca_path).
        type: path
      tls_server_name:
        description:
          - As O(tls_server_name).
        type: str
      tls_fingerprint:
        description:
          - As O(tls_fingerprint).
        type: list
        elements: str
      timeout:
        description:
          - As O(timeout).
        type: int
      retries:
        description:
          - As O(retries).
        type: int
requirements:
  - requests (Python library, on the host that runs the module)
"""

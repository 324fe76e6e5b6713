# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment(object):
    """Connection options of modules that talk to a Knocknoc server.

    Mirrors ``knocknoc_argspec()`` in ``plugins/module_utils/_connection.py``: no option has a default nor a
    fallback in the argument spec, ``resolve_connection()`` applies them at run time (option, then
    the API's dict, then the environment, then the default).
    """

    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the Knocknoc server, for example V(https://example.knoc.cloud).
      - Must start with V(https://) and must not contain credentials.
      - If not set, O(knocknoc.url), then the E(KNOCKNOC_URL) environment variable is used; one of them is required.
    type: str
  token:
    description:
      - Admin API token for the knoc management API, sent in the C(Authorization) header as a bearer token.
      - Knocknoc publishes no management API; the one this collection uses is modelled (see the module documentation). Allowlist
        reads do not need this token.
      - If not set, O(knocknoc.token), then the E(KNOCKNOC_TOKEN) environment variable is used.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of the Knocknoc server.
      - V(false) accepts any certificate (Knocknoc's C(Insecure) setting); prefer O(ca_path), O(tls_server_name) or
        O(tls_fingerprint).
      - If not set, O(knocknoc.validate_certs), then the E(KNOCKNOC_VALIDATE_CERTS) environment variable is used, else V(true).
    type: bool
  ca_path:
    description:
      - PEM file (or directory) with the CA certificate(s) that signed the certificate of the Knocknoc server, for a private CA.
      - If not set, O(knocknoc.ca_path), then the E(KNOCKNOC_CA_PATH) environment variable is used.
    type: path
  tls_server_name:
    description:
      - Verify the certificate against this name instead of the host in O(url), and send it as TLS SNI.
      - The name is looked for in the certificate's subjectAltNames or, in a certificate without any, in its subject CN. The
        certificate chain is always verified.
      - Ignored with O(tls_fingerprint) (the pin is checked instead) and with O(validate_certs=false).
      - If not set, O(knocknoc.tls_server_name), then the E(KNOCKNOC_TLS_SERVER_NAME) environment variable is used.
    type: str
  tls_fingerprint:
    description:
      - Pin the SHA-256 fingerprint of the certificate of the Knocknoc server, as V(AA:BB:...) or 64 hex digits (C(openssl x509
        -noout -fingerprint -sha256) output is accepted); the certificate must match one of the pins.
      - A list of pins, of which any may match, lets a certificate be replaced without a failed run (put the new fingerprint
        next to the old one first). A single string is a list of one; in the environment variable, separate pins with commas.
      - With a pin the certificate chain and name are not verified, so a self-signed certificate works without
        O(validate_certs=false). M(knocknoc.fortinet.fortinet_certificate_info) shows the fingerprint a device presents.
      - If not set, O(knocknoc.tls_fingerprint), then the E(KNOCKNOC_TLS_FINGERPRINT) environment variable is used.
    type: list
    elements: str
  timeout:
    description:
      - Seconds to wait for the connection and for each answer (the Knocknoc agent waits 10 seconds).
      - If not set, O(knocknoc.timeout), then the E(KNOCKNOC_TIMEOUT) environment variable is used, else V(10).
    type: int
  retries:
    description:
      - How many times a failed request is repeated, with exponential backoff and jitter (at most 5 seconds per wait, honouring
        C(Retry-After)).
      - Retried are connections that could not be established (the request was never sent), and, for requests that are safe to
        repeat, dropped connections and HTTP 429, 502, 503 and 504. Timeouts and HTTP 401 and 403 are never retried.
      - If not set, O(knocknoc.retries) is used, else V(3).
    type: int
  knocknoc:
    description:
      - The Knocknoc connection as one dictionary, with the keys of the options of the same names (O(url), O(token),
        O(validate_certs), O(ca_path), O(tls_server_name), O(tls_fingerprint), O(timeout), O(retries)).
      - Meant for C(module_defaults) of C(group/knocknoc.fortinet.knocknoc), so that one variable carries a whole connection.
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

    # The Knocknoc connection of a module whose top-level connection options are a device's
    # (fortinet_preflight): only the dict, described on its own. Mirrors connection_dict_argspec(KNOCKNOC).
    AS_DICT = r"""
options:
  knocknoc:
    description:
      - The Knocknoc server connection as one dictionary, for example one variable shared with the C(knocknoc) dict of the
        Knocknoc modules, or C(module_defaults) of this module.
      - Key by key, a C(knocknoc_*) option of this module wins over this dictionary, and this dictionary over the C(KNOCKNOC_*)
        environment variables.
    type: dict
    suboptions:
      url:
        description:
          - Base URL of the Knocknoc server, V(https://...), without credentials.
          - If not set, the E(KNOCKNOC_URL) environment variable is used.
        type: str
      token:
        description:
          - Admin API token of the (modelled) knoc management API.
          - If not set, the E(KNOCKNOC_TOKEN) environment variable is used.
        type: str
      validate_certs:
        description:
          - Verify the TLS certificate of the Knocknoc server.
          - If not set, the E(KNOCKNOC_VALIDATE_CERTS) environment variable is used, else V(true).
        type: bool
      ca_path:
        description:
          - PEM file (or directory) with the CA certificate(s) of a private CA.
          - If not set, the E(KNOCKNOC_CA_PATH) environment variable is used.
        type: path
      tls_server_name:
        description:
          - Verify the certificate against this name instead of the host in the URL, and send it as TLS SNI.
          - If not set, the E(KNOCKNOC_TLS_SERVER_NAME) environment variable is used.
        type: str
      tls_fingerprint:
        description:
          - SHA-256 fingerprint(s) of the certificate to pin; any of them may match. A single string is a list of one.
          - If not set, the E(KNOCKNOC_TLS_FINGERPRINT) environment variable is used (pins separated by commas).
        type: list
        elements: str
      timeout:
        description:
          - Seconds to wait for the connection and for each answer.
          - If not set, the E(KNOCKNOC_TIMEOUT) environment variable is used, else the module's device timeout.
        type: int
      retries:
        description:
          - How many times a failed request that is safe to repeat is repeated.
          - If not set, the module's device retries are used.
        type: int
"""

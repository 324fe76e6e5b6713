# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certificate a device presents, read with a TLS handshake and no HTTP request, for
``fortinet_certificate_info``: what it says (subject, subjectAltNames, issuer, validity, SHA-256 of
the leaf and of the CA the device sends) and whether the collection's clients would accept it with
given ``ca_path`` / ``tls_server_name`` / ``tls_fingerprint`` (the same checks: urllib3's SSL context,
and :func:`_http.name_matches`).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import socket
import ssl
import traceback

from urllib.parse import urlsplit

CRYPTOGRAPHY_IMPORT_ERROR = None
try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True

try:
    from urllib3.util.ssl_ import create_urllib3_context
except ImportError:  # urllib3 ships with requests, which the module base requires
    create_urllib3_context = None

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import (
    _hex_colons,
    name_matches,
    normalize_fingerprints,
)


def _endpoint(url):
    parts = urlsplit(str(url))
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise KnocknocError(None, "url must be an https:// URL with a host name", description="Invalid connection option")
    return parts.hostname, parts.port or 443


def _is_address(host):
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return True
    except (OSError, ValueError):
        return False


def _handshake(host, port, context, server_name, timeout):
    """Connect, shake hands and return ``(leaf as getpeercert() dict or None, DER chain)``."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.timeout:
        raise KnocknocError(202004, "no answer within %ss connecting to %s:%s" % (timeout, host, port))
    except OSError as exc:
        raise KnocknocError(202000, "connection to %s:%s failed (%s)" % (host, port, exc))
    sni = server_name if server_name and not _is_address(server_name) else (None if _is_address(host) else host)
    try:
        tls = context.wrap_socket(sock, server_hostname=sni)
    except BaseException:
        sock.close()
        raise
    try:
        return tls.getpeercert(), _chain(tls)
    finally:
        tls.close()


def _chain(tls):
    """The certificates the device sent, leaf first, as DER."""
    getter = getattr(tls, "get_unverified_chain", None)  # Python 3.13+
    if getter is None:
        getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)  # 3.10-3.12, private
    chain = []
    if getter is not None:
        try:
            for item in getter() or ():
                chain.append(item if isinstance(item, bytes) else item.public_bytes(ssl._ssl.ENCODING_DER))  # pylint: disable=protected-access
        except (AttributeError, ssl.SSLError, TypeError):
            chain = []
    if not chain:
        leaf = tls.getpeercert(binary_form=True)
        chain = [leaf] if leaf else []
    return chain


def _name(name):
    return dict((attribute.oid._name, attribute.value) for attribute in name)  # pylint: disable=protected-access


def _cn(name):
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return values[0].value if values else None


def _when(cert, attribute):
    value = getattr(cert, attribute + "_utc", None)  # cryptography 42+
    if value is None:
        value = getattr(cert, attribute).replace(tzinfo=datetime.timezone.utc)
    return value


def _sans(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return ([("DNS", n) for n in ext.get_values_for_type(x509.DNSName)]
            + [("IP Address", str(a)) for a in ext.get_values_for_type(x509.IPAddress)])


def _is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def as_peer(cert):
    """A cryptography certificate in the shape of ``SSLSocket.getpeercert()`` (what name_matches reads)."""
    return {"subject": tuple(((attribute.oid._name, attribute.value),) for attribute in cert.subject),  # pylint: disable=protected-access
            "subjectAltName": tuple(_sans(cert))}


def describe(der, now=None):
    """What a certificate says, as the module returns it."""
    cert = x509.load_der_x509_certificate(der)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    not_before, not_after = _when(cert, "not_valid_before"), _when(cert, "not_valid_after")
    return {
        "subject": _name(cert.subject),
        "subject_cn": _cn(cert.subject),
        "subject_alt_names": ["%s:%s" % ("IP" if kind == "IP Address" else kind, value) for kind, value in _sans(cert)],
        "issuer": _name(cert.issuer),
        "issuer_cn": _cn(cert.issuer),
        "self_signed": cert.issuer == cert.subject,
        "is_ca": _is_ca(cert),
        "serial_number": "%X" % cert.serial_number,
        "not_before": not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expired": now > not_after,
        "days_left": int((not_after - now).total_seconds() // 86400),
        "sha256": _hex_colons(hashlib.sha256(der).hexdigest()),
        "pem": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    }


def _verify_chain(host, port, ca_path, server_name, timeout):
    """``(True, None)`` when the chain verifies against ``ca_path`` (else the system CAs) with the
    clients' SSL settings, else ``(False, reason)``."""
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    context.check_hostname = False  # the name is checked apart (name_matches), as the clients do
    if ca_path:
        try:
            if os.path.isdir(ca_path):
                context.load_verify_locations(capath=ca_path)
            else:
                context.load_verify_locations(cafile=ca_path)
        except (OSError, ssl.SSLError) as exc:
            raise KnocknocError(None, "ca_path %s cannot be read as PEM certificates (%s)" % (ca_path, exc),
                                description="Invalid connection option")
    else:
        context.load_default_certs()
    try:
        _handshake(host, port, context, server_name, timeout)
    except ssl.SSLCertVerificationError as exc:
        return False, exc.verify_message or str(exc)
    except ssl.SSLError as exc:
        return False, str(exc)
    return True, None


def certificate_report(url, ca_path=None, tls_server_name=None, tls_fingerprint=None, timeout=10):
    """Everything fortinet_certificate_info returns (see its RETURN)."""
    host, port = _endpoint(url)
    pins = normalize_fingerprints(tls_fingerprint)
    context = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
    context.check_hostname = False
    try:
        _peer, chain = _handshake(host, port, context, tls_server_name, timeout)
    except ssl.SSLError as exc:
        raise KnocknocError(202003, "TLS handshake with %s:%s failed (%s)" % (host, port, exc))
    if not chain:
        raise KnocknocError(202003, "%s:%s presented no certificate" % (host, port))
    leaf_cert = x509.load_der_x509_certificate(chain[0])
    leaf = describe(chain[0])
    # The CA the device sends with its certificate (FortiOS 7.2.1+ sends Fortinet_CA_SSL).
    ca = None
    if len(chain) > 1:
        ca = describe(chain[-1])
    anchor = ca["pem"] if ca else (leaf["pem"] if leaf["self_signed"] else None)

    peer = as_peer(leaf_cert)
    sans = _sans(leaf_cert)
    host_in_sans = name_matches(peer, host) if sans else False
    if host_in_sans:
        suggested_name = None
    elif not sans:
        suggested_name = leaf["subject_cn"]
    else:
        suggested_name = next((value for kind, value in sans if kind == "DNS"), None)

    # Whether the collection's clients would accept it with these options.
    wanted = tls_server_name or host
    # Without tls_server_name the clients use urllib3's check of the URL's host: subjectAltNames only.
    matches = name_matches(peer, wanted) if tls_server_name else (bool(sans) and name_matches(peer, host))
    chain_ok, chain_error = _verify_chain(host, port, ca_path, tls_server_name, timeout)
    seen = leaf["sha256"].replace(":", "").lower()
    fingerprint_ok = (seen in pins) if pins else None
    if pins:
        accepted = fingerprint_ok
    else:
        accepted = chain_ok and matches
    return {
        "certificate": leaf,
        "ca": ca,
        "chain_length": len(chain),
        "trust_anchor_pem": anchor,
        "tls_server_name": suggested_name,
        "verification": {
            "ca_path": ca_path,
            "chain_verified": chain_ok,
            "chain_error": chain_error,
            "name": wanted,
            "name_matches": matches,
            "fingerprint_matches": fingerprint_ok,
            "accepted": bool(accepted),
        },
    }

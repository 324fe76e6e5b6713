# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The name check that replaces urllib3's for tls_server_name, and tls_fingerprint as a list.
(The lab tests run both against real handshakes: tests/integration/test_tls_recipes.py.)"""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import (
    name_matches,
    normalize_fingerprint,
    normalize_fingerprints,
)


def peer(cn=None, dns=(), ips=()):
    """A certificate as SSLSocket.getpeercert() gives it."""
    subject = ((("organizationName", "Fortinet"),),)
    if cn is not None:
        subject += ((("commonName", cn),),)
    sans = tuple(("DNS", n) for n in dns) + tuple(("IP Address", a) for a in ips)
    return {"subject": subject, "subjectAltName": sans} if sans else {"subject": subject}


FACTORY = peer(cn="FGVM01TM24000003")                      # Fortinet_Factory / Fortinet_Local
GUI = peer(cn="FortiGate", ips=("192.0.2.1", "2001:DB8::1"))  # Fortinet_GUI_Server
SERIAL_SAN = peer(cn="FGVM01TM24000001", dns=("FGVM01TM24000001",))


@pytest.mark.parametrize("cert, name, expected", [
    # CN-only: the CN is the name, case-insensitively; nothing else is.
    (FACTORY, "FGVM01TM24000003", True),
    (FACTORY, "fgvm01tm24000003", True),
    (FACTORY, "FGVM01TM24000004", False),
    (FACTORY, "192.0.2.1", False),
    (peer(), "FGVM01TM24000003", False),                    # neither SAN nor CN
    # With subjectAltNames the CN is never read (RFC 6125): every GUI certificate says "FortiGate".
    (GUI, "FortiGate", False),
    (GUI, "192.0.2.1", True),
    (GUI, "[2001:db8::1]", True),
    (GUI, "2001:db8:0::1", True),                           # addresses compare as addresses
    (GUI, "192.0.2.2", False),
    (GUI, "FGVM01TM24000001", False),                       # the serial is not in a 7.2.1+ certificate
    (SERIAL_SAN, "FGVM01TM24000001", True),
    (SERIAL_SAN, "FGVM01TM24000002", False),
    # DNS wildcards: the whole left-most label, one label only.
    (peer(dns=("*.example.com",)), "fw.example.com", True),
    (peer(dns=("*.example.com",)), "a.fw.example.com", False),
    (peer(dns=("*.example.com",)), "example.com", False),
    (peer(dns=("f*.example.com",)), "fw.example.com", False),
    # An address is matched against IP SANs only, a name against DNS SANs only.
    (peer(dns=("192.0.2.1",)), "192.0.2.1", False),
])
def test_name_matches(cert, name, expected):
    assert name_matches(cert, name) is expected


def test_fingerprints_one_or_many():
    a, b = "AB" * 32, ":".join(["cd"] * 32)
    assert normalize_fingerprints(None) == ()
    assert normalize_fingerprints(a) == ("ab" * 32,)
    assert normalize_fingerprints([a, b, a]) == ("ab" * 32, "cd" * 32)  # duplicates dropped, order kept
    assert normalize_fingerprints("%s,%s" % (a, b)) == ("ab" * 32, "cd" * 32)  # an environment variable
    assert normalize_fingerprint("sha256:" + a) == "ab" * 32
    with pytest.raises(KnocknocError) as exc_info:
        normalize_fingerprints([a, "AB:CD"])
    assert "tls_fingerprint" in str(exc_info.value)

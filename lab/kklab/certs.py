"""The certificates the lab's appliances present, shaped as the real ones are.

Which certificate an appliance serves depends on its firmware (issue 11):

``factory``
    FortiOS before 7.2.1, ``Fortinet_Factory``: the serial number as the subject CN, no
    subjectAltName at all. Self-signed here, so the certificate is its own trust anchor: export it
    from the device and it is the ``ca_path``.
``local``
    FortiManager, ``Fortinet_Local`` (seen on 7.6.7 and 8.0.0): the same shape as ``factory``.
``gui``
    FortiOS 7.2.1 and later, ``Fortinet_GUI_Server``: signed by the device's own CA
    (``Fortinet_CA_SSL``, the serial as its CN); the IP addresses of the HTTPS-enabled interfaces
    as subjectAltNames (127.0.0.1 in the lab), and not the serial.
``serial-san``
    What the lab served before: issued by the lab CA with the serial as a DNS subjectAltName. Only
    on request (topology ``"certificate": "serial-san"`` on a device, or ``"certificates":
    "serial-san"`` for the whole lab), for a PKI that issues such certificates.
``server``
    An ordinary server certificate from the lab CA for the device's host names (the Knocknoc server).

A device gets its firmware's shape unless the topology says otherwise. Everything a client needs
is in lab.json (:meth:`DeviceCertificate.describe`): the CA file, the name to verify, the SHA-256
fingerprint and the names the certificate carries.
"""

import datetime
import hashlib
import ipaddress
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SHAPES = ("factory", "local", "gui", "serial-san", "server")
# What a topology may ask for: a shape, or "appliance" (the firmware's own, the default).
CHOICES = ("appliance", "factory", "local", "gui", "serial-san")
# The HTTPS interface addresses a lab device's GUI certificate names: the lab serves on 127.0.0.1.
LAB_ADDRESSES = ("127.0.0.1",)

_FORTINET = [
    (NameOID.COUNTRY_NAME, "US"), (NameOID.STATE_OR_PROVINCE_NAME, "California"),
    (NameOID.LOCALITY_NAME, "Sunnyvale"), (NameOID.ORGANIZATION_NAME, "Fortinet"),
]


def appliance_shape(device):
    """The shape the device's firmware serves."""
    if device.kind == "fortigate":
        return "gui" if device.version_at_least("7.2.1") else "factory"
    if device.kind == "fortimanager":
        return "local"
    return "server"


def choose_shape(device, requested=None):
    """The device's shape for a topology value (None or ``appliance``: the firmware's own)."""
    if requested in (None, "", "appliance"):
        return appliance_shape(device)
    if requested not in CHOICES:
        raise ValueError("certificate must be one of %s, got %r" % (", ".join(CHOICES), requested))
    if appliance_shape(device) == "server":
        return "server"  # the Knocknoc server is no appliance: its certificate does not vary
    return requested


def _name(unit, common_name):
    attributes = list(_FORTINET) + [(NameOID.ORGANIZATIONAL_UNIT_NAME, unit), (NameOID.COMMON_NAME, common_name),
                                    (NameOID.EMAIL_ADDRESS, "support@fortinet.com")]
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _key():
    # P-256 keys: a fleet of 200 devices gets its certificates in well under a second.
    return ec.generate_private_key(ec.SECP256R1())


def _builder(subject, issuer, public_key, days):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _self_signed_leaf(unit, serial):
    """``Fortinet_Factory`` / ``Fortinet_Local``: CN = serial, no subjectAltName, self-signed."""
    key = _key()
    subject = _name(unit, serial)
    cert = (_builder(subject, subject, key.public_key(), 3650)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _device_ca(serial):
    """``Fortinet_CA_SSL``: the device's own CA, the serial as its CN."""
    key = _key()
    subject = _name("Certificate Authority", serial)
    cert = (_builder(subject, subject, key.public_key(), 3650)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _gui_leaf(ca_key, ca_cert, addresses):
    """``Fortinet_GUI_Server``: the HTTPS interface addresses as IP subjectAltNames, no serial."""
    key = _key()
    sans = [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (_builder(_name("FortiGate", "FortiGate"), ca_cert.subject, key.public_key(), 825)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def fingerprint(cert):
    """SHA-256 of the DER certificate as ``AA:BB:...`` (what ``openssl x509 -fingerprint -sha256`` shows)."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _san_names(cert):
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return (["DNS:%s" % n for n in sans.get_values_for_type(x509.DNSName)]
            + ["IP:%s" % a for a in sans.get_values_for_type(x509.IPAddress)])


def _common_name(cert):
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return names[0].value if names else None


class DeviceCertificate:
    """The certificate one device presents, its trust anchor and what lab.json says about them.

    The key material is made at once (lab.json carries the fingerprint and the CA file before any
    client connects); the server SSL context is made on first use (:meth:`server_context`).
    ``regenerate()`` issues a new leaf, as FortiOS does for ``Fortinet_GUI_Server`` when an
    interface address changes: same CA, new fingerprint.
    """

    LABELS = {"factory": "Fortinet_Factory", "local": "Fortinet_Local", "gui": "Fortinet_GUI_Server",
              "serial-san": "lab CA (serial in subjectAltName)", "server": "lab CA"}

    def __init__(self, device, authority, shape):
        if shape not in SHAPES:
            raise ValueError("unknown certificate shape %r" % shape)
        self.device = device
        self.authority = authority
        self.shape = shape
        self._lock = threading.Lock()
        self._context = None
        self._client = None
        self.ca_cert = None
        self._ca_key = None
        self.ca_path = str(authority.ca_path)  # the lab CA unless the device has an anchor of its own
        self._issue()

    def _issue(self):
        device, shape = self.device, self.shape
        if shape in ("factory", "local"):
            self.key, self.cert = _self_signed_leaf("FortiManager" if shape == "local" else "FortiGate", device.serial)
            self.chain = [self.cert]
            self._write_anchor(_pem(self.cert))
        elif shape == "gui":
            if self._ca_key is None:
                self._ca_key, self.ca_cert = _device_ca(device.serial)
                self._write_anchor(_pem(self.ca_cert))
            self.key, self.cert = _gui_leaf(self._ca_key, self.ca_cert, LAB_ADDRESSES)
            # FortiOS sends the leaf and its CA.
            self.chain = [self.cert, self.ca_cert]
        else:
            names = [device.serial] if shape == "serial-san" else list(device.cert_names())
            self.key, self.cert = self.authority.issue(names)
            self.chain = [self.cert]

    def _write_anchor(self, pem):
        path = self.authority.directory / "certs" / ("%s.pem" % self.device.name)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(pem)
        self.ca_path = str(path)

    def regenerate(self):
        """A new leaf certificate (and, for the CN-only shapes, a new anchor): new fingerprint."""
        with self._lock:
            self._issue()
            self._context = self._client = None

    def server_context(self):
        with self._lock:
            if self._context is None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                chain_path = self.authority.directory / "certs" / ("%s-server.pem" % self.device.name)
                chain_path.parent.mkdir(exist_ok=True)
                chain_path.write_bytes(_key_pem(self.key) + b"".join(_pem(c) for c in self.chain))
                context.load_cert_chain(str(chain_path))
                self._context = context
            return self._context

    get = server_context  # what core.DeviceServer asks a lazily made context for

    @property
    def server_name(self):
        """The name a client verifies: the serial (CN or DNS subjectAltName), else the first address."""
        if self.shape in ("factory", "local", "serial-san"):
            return self.device.serial
        if self.shape == "gui":
            return LAB_ADDRESSES[0]
        return self.device.cert_names()[0]

    def client_context(self):
        """An SSL context that verifies this device as a careful client would: its own anchor, and
        for the CN-only shapes the subject CN (OpenSSL's check, with the CN fallback allowed)."""
        with self._lock:
            if self._client is None:
                context = ssl.create_default_context(cafile=self.ca_path)
                if self.shape in ("factory", "local"):
                    context.hostname_checks_common_name = True
                self._client = context
            return self._client

    def describe(self):
        cert = self.cert
        info = {
            "shape": self.shape,
            "name": self.LABELS[self.shape],
            "subject_cn": _common_name(cert),
            "subject_alt_names": _san_names(cert),
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "self_signed": cert.issuer == cert.subject,
            "sha256": fingerprint(cert),
            "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if self.ca_cert is not None:
            info.update({"ca_name": "Fortinet_CA_SSL", "ca_sha256": fingerprint(self.ca_cert)})
        return info

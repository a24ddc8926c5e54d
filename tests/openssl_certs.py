"""Certificates made with the openssl CLI, and the facts ``openssl x509`` prints about them.

`generate_certificates` issues the set that the reader is checked against.
Its keys are RSA 2048/3072/4096, RSA-PSS, ECDSA P-256/P-384/P-521 and
brainpool, Ed25519 and Ed448. The certificates come with and without each kind
of subjectAltName, with UTCTime and GeneralizedTime validity, as CAs and leaves
with and without a path length, and with names that need RFC 4514 escaping. `read_openssl_facts`
parses what ``openssl x509`` prints into the same terms as `PeerCertificate`,
so a test compares the two field by field.
"""

from __future__ import annotations

import base64
import datetime
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

OPENSSL = shutil.which("openssl")
OPENSSL_TIMEOUT_SECONDS = 60

# The key each certificate gets, as ``openssl genpkey`` arguments.
KEY_ALGORITHMS: Dict[str, List[str]] = {
    "rsa2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rsa3072": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
    "rsa4096": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
    "rsapss": ["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"],
    "p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "p521": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    "brainpool": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:brainpoolP256r1"],
    "ed25519": ["-algorithm", "ED25519"],
    "ed448": ["-algorithm", "ED448"],
}

# A validity of 20000 days from now ends after 2049, so OpenSSL encodes it as
# GeneralizedTime (RFC 5280 4.1.2.5); shorter ones end in UTCTime.
GENERALIZED_TIME_DAYS = 20000


class CertificateSpec(NamedTuple):
    name: str
    key: str
    issuer: Optional[str]  # the name of the issuing spec, None for self-signed
    subject: str  # in ``openssl req -subj`` syntax
    days: int
    extensions: str  # lines of an OpenSSL extension section; empty for a v1 certificate
    serial: str = "0x1001"
    digest: str = "-sha256"


CA_EXTENSIONS = """
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

SPECS: Tuple[CertificateSpec, ...] = (
    CertificateSpec(
        "root-rsa3072", "rsa3072", None, "/C=US/O=tlskit tests/CN=Test Root CA", 3650, CA_EXTENSIONS
    ),
    CertificateSpec(
        "intermediate-p384",
        "p384",
        "root-rsa3072",
        "/O=tlskit tests/OU=Issuing/CN=Test Intermediate CA",
        GENERALIZED_TIME_DAYS,
        """
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
authorityInfoAccess = caIssuers;URI:http://ca.example.test/root.der
""",
        serial="0x7fffffffffffffffffffffffffffffff",
        digest="-sha384",
    ),
    CertificateSpec(
        "leaf-rsa2048",
        "rsa2048",
        "intermediate-p384",
        "/CN=www.example.test",
        90,
        """
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:www.example.test, DNS:example.test, DNS:*.cdn.example.test
authorityInfoAccess = OCSP;URI:http://ocsp.example.test/, caIssuers;URI:http://ca.example.test/int.der
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
""",
        serial="0x80000000000000000001",
        digest="-sha384",
    ),
    CertificateSpec(
        "leaf-rsa4096-every-san",
        "rsa4096",
        "root-rsa3072",
        "/C=DE/L=Berlin/O=Every SAN/CN=every.example.test",
        GENERALIZED_TIME_DAYS,
        """
basicConstraints = CA:FALSE
subjectAltName = DNS:every.example.test, IP:192.0.2.7, IP:2001:db8::7, IP:::1, URI:https://every.example.test/path?q=1, email:admin@every.example.test
""",
        serial="0",
        digest="-sha512",
    ),
    CertificateSpec(
        "leaf-p256-ip",
        "p256",
        "intermediate-p384",
        "/CN=127.0.0.1",
        30,
        """
basicConstraints = critical, CA:FALSE
subjectAltName = critical, IP:127.0.0.1, IP:::1
""",
    ),
    CertificateSpec(
        "leaf-ed25519",
        "ed25519",
        "root-rsa3072",
        "/CN=Ed25519 Leaf/emailAddress=owner@example.test",
        GENERALIZED_TIME_DAYS,
        """
subjectAltName = email:owner@example.test, URI:urn:example:ed25519
""",
    ),
    CertificateSpec(
        "ca-ed25519-no-pathlen",
        "ed25519",
        None,
        "/O=tlskit tests/CN=Ed25519 Root",
        3650,
        """
basicConstraints = critical, CA:TRUE
keyUsage = keyCertSign
""",
    ),
    CertificateSpec("v1-p521", "p521", None, "/CN=Version One", 365, "", digest="-sha512"),
    CertificateSpec(
        "leaf-ed448",
        "ed448",
        "ca-ed25519-no-pathlen",
        "/CN=ed448.example.test",
        365,
        "subjectAltName = DNS:ed448.example.test\n",
    ),
    CertificateSpec(
        "rsapss-self-signed", "rsapss", None, "/CN=RSA-PSS", 365, "basicConstraints = CA:FALSE\n"
    ),
    CertificateSpec(
        "brainpool-self-signed",
        "brainpool",
        None,
        "/CN=Brainpool",
        365,
        "basicConstraints = critical, CA:TRUE, pathlen:7\n",
        digest="-sha1",
    ),
    CertificateSpec(
        "names-need-escaping",
        "p256",
        None,
        '/C=US/O=Example, Inc./OU=a\\+b;c<d>e=f/CN= #lead"q\\\\ /emailAddress=x@y.test/GN=Zoë/serialNumber=123'
        "/street=1 Main St/DC=example/UID=u1/title=Dr/SN=Sur/L=Zürich/ST=日本/CN=trailing ",
        365,
        "subjectKeyIdentifier = hash\n",
    ),
    CertificateSpec("names-multi-valued", "p256", None, "/O=Multi/CN=a+OU=b+L=c", 365, ""),
    CertificateSpec(
        "every-key-usage",
        "p256",
        None,
        "/CN=Usages",
        365,
        """
keyUsage = digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly, decipherOnly
extendedKeyUsage = serverAuth, clientAuth, codeSigning, emailProtection, timeStamping, OCSPSigning, anyExtendedKeyUsage, 1.2.3.9
1.2.3.4.5 = critical, ASN1:UTF8String:hello
1.3.6.1.4.1.55555.1 = DER:0500
""",
    ),
)


def run_openssl(*args: str) -> str:
    """Run the openssl CLI and return its standard output as text."""
    assert OPENSSL is not None
    result = subprocess.run(
        [OPENSSL, *args], capture_output=True, timeout=OPENSSL_TIMEOUT_SECONDS, check=False
    )
    assert result.returncode == 0, (
        f"openssl {' '.join(args)} failed: {result.stderr.decode(errors='replace')}"
    )
    return result.stdout.decode("utf-8")


def generate_certificates(directory: Path) -> Dict[str, Path]:
    """Issue every certificate of `SPECS` in ``directory`` and return their PEM paths by name."""
    assert OPENSSL is not None
    keys = _generate_keys(directory)
    paths: Dict[str, Path] = {}
    for spec in SPECS:
        config = directory / f"{spec.name}.cnf"
        config.write_text(
            "[req]\ndistinguished_name = dn\nstring_mask = default\n[dn]\n[v3]\n" + spec.extensions,
            encoding="utf-8",
        )
        cert = directory / f"{spec.name}.pem"
        key = str(keys[spec.key])
        subject_args = ["-subj", spec.subject, "-utf8", "-multivalue-rdn", "-config", str(config)]
        extension_args = ["-extensions", "v3"] if spec.extensions else []
        common = ["-days", str(spec.days), "-set_serial", spec.serial, "-out", str(cert)]
        digest = [] if spec.key.startswith("ed") else [spec.digest]
        if spec.issuer is None:
            run_openssl("req", "-x509", "-new", "-key", key, *subject_args, *extension_args, *common, *digest)
        else:
            csr = directory / f"{spec.name}.csr"
            run_openssl("req", "-new", "-key", key, *subject_args, "-out", str(csr))
            issuer = next(candidate for candidate in SPECS if candidate.name == spec.issuer)
            issuer_digest = [] if issuer.key.startswith("ed") else [spec.digest]
            run_openssl(
                "x509", "-req", "-in", str(csr), "-CA", str(paths[issuer.name]), "-CAkey",
                str(keys[issuer.key]), "-extfile", str(config), "-extensions", "v3", *common, *issuer_digest,
            )  # fmt: skip
        paths[spec.name] = cert
    return paths


def _generate_keys(directory: Path) -> Dict[str, Path]:
    """Generate one key per algorithm, all at once, since RSA 4096 takes a while."""
    assert OPENSSL is not None
    paths = {name: directory / f"{name}.key" for name in KEY_ALGORITHMS}
    processes = [
        subprocess.Popen(
            [OPENSSL, "genpkey", *arguments, "-out", str(paths[name])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name, arguments in KEY_ALGORITHMS.items()
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=OPENSSL_TIMEOUT_SECONDS)
        assert process.returncode == 0, stderr.decode(errors="replace")
    return paths


# How ``openssl x509 -text`` names things, in tlskit's terms.
OPENSSL_SIGNATURE_NAMES = {"ED25519": "Ed25519", "ED448": "Ed448"}
OPENSSL_KEY_ALGORITHMS = {
    "rsaEncryption": "RSA",
    "rsassaPss": "RSASSA-PSS",
    "id-ecPublicKey": "EC",
    "ED25519": "Ed25519",
    "ED448": "Ed448",
}
OPENSSL_CURVES = {"prime256v1": "secp256r1", "secp384r1": "secp384r1", "secp521r1": "secp521r1"}
OPENSSL_EXTENSION_OIDS = {
    "X509v3 Basic Constraints": "2.5.29.19",
    "X509v3 Key Usage": "2.5.29.15",
    "X509v3 Extended Key Usage": "2.5.29.37",
    "X509v3 Subject Key Identifier": "2.5.29.14",
    "X509v3 Authority Key Identifier": "2.5.29.35",
    "X509v3 Subject Alternative Name": "2.5.29.17",
    "Authority Information Access": "1.3.6.1.5.5.7.1.1",
}
OPENSSL_KEY_USAGES = {
    "Digital Signature": "digitalSignature",
    "Non Repudiation": "nonRepudiation",
    "Key Encipherment": "keyEncipherment",
    "Data Encipherment": "dataEncipherment",
    "Key Agreement": "keyAgreement",
    "Certificate Sign": "keyCertSign",
    "CRL Sign": "cRLSign",
    "Encipher Only": "encipherOnly",
    "Decipher Only": "decipherOnly",
}
OPENSSL_KEY_PURPOSES = {
    "TLS Web Server Authentication": "serverAuth",
    "TLS Web Client Authentication": "clientAuth",
    "Code Signing": "codeSigning",
    "E-mail Protection": "emailProtection",
    "Time Stamping": "timeStamping",
    "OCSP Signing": "OCSPSigning",
    "Any Extended Key Usage": "anyExtendedKeyUsage",
}
# OpenSSL's short names for name attributes where RFC 4514 or LDAP register another.
OPENSSL_ATTRIBUTE_NAMES = {"GN": "givenName", "street": "STREET"}
_HEX_DUMP_LINE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2})*:?$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class OpenSSLFacts(NamedTuple):
    """What ``openssl x509`` prints about one certificate, in tlskit's terms."""

    version: int
    serial_hex: str
    signature_algorithm: str
    issuer: str
    subject: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    public_key_algorithm: str
    key_size: Optional[int]
    curve: Optional[str]
    spki: bytes
    sha256_fingerprint: str
    extensions: List[Tuple[str, bool, List[str]]]  # (OID, critical, value lines)


def read_openssl_facts(path: Path) -> OpenSSLFacts:
    """Run ``openssl x509`` on the PEM at ``path`` and parse its output."""
    text = run_openssl("x509", "-in", str(path), "-noout", "-text")
    fields = _key_value_lines(
        run_openssl(
            "x509",
            "-in",
            str(path),
            "-noout",
            "-serial",
            "-subject",
            "-issuer",
            "-dates",
            "-fingerprint",
            "-sha256",
            "-nameopt",
            "RFC2253,-esc_msb",
        )  # fmt: skip
    )
    pubkey_pem = run_openssl("x509", "-in", str(path), "-noout", "-pubkey")
    lines = text.splitlines()
    key_algorithm = OPENSSL_KEY_ALGORITHMS[_value_after(lines, "Public Key Algorithm:")]
    return OpenSSLFacts(
        version=int(_value_after(lines, "Version:").split()[0]),
        serial_hex=fields["serial"],
        signature_algorithm=_signature_name(_value_after(lines, "Signature Algorithm:")),
        issuer=fields["issuer"],
        subject=fields["subject"],
        not_before=_openssl_time(fields["notBefore"]),
        not_after=_openssl_time(fields["notAfter"]),
        public_key_algorithm=key_algorithm,
        key_size=_key_size(lines, key_algorithm),
        curve=_curve(lines),
        spki=base64.b64decode(
            "".join(line for line in pubkey_pem.splitlines() if not line.startswith("-----"))
        ),
        sha256_fingerprint=next(
            value for key, value in fields.items() if key.lower() == "sha256 fingerprint"
        ),
        extensions=_extensions(lines),
    )


def _key_value_lines(text: str) -> Dict[str, str]:
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value
    return fields


def _value_after(lines: List[str], label: str) -> str:
    return next(line.split(label, 1)[1].strip() for line in lines if line.strip().startswith(label))


def _signature_name(openssl_name: str) -> str:
    return OPENSSL_SIGNATURE_NAMES.get(openssl_name, openssl_name)


def _openssl_time(text: str) -> datetime.datetime:
    """Parse ``Dec  4 20:59:47 2026 GMT`` without depending on the locale."""
    month, day, clock, year, zone = text.split()
    assert zone == "GMT"
    hour, minute, second = (int(part) for part in clock.split(":"))
    return datetime.datetime(
        int(year), _MONTHS.index(month) + 1, int(day), hour, minute, second, tzinfo=datetime.timezone.utc
    )


def _key_size(lines: List[str], algorithm: str) -> Optional[int]:
    if algorithm in ("Ed25519", "Ed448"):
        # OpenSSL prints no size for these keys, only the key bytes after "pub:".
        start = next(index for index, line in enumerate(lines) if line.strip() == "pub:") + 1
        key_bytes = 0
        for line in lines[start:]:
            if not _HEX_DUMP_LINE.match(line.strip()):
                break
            key_bytes += len(line.strip().rstrip(":").split(":"))
        return 8 * key_bytes
    size = next(line for line in lines if "Public-Key: (" in line)
    return int(size.split("(")[1].split()[0])


def _curve(lines: List[str]) -> Optional[str]:
    found = [line.split("ASN1 OID:")[1].strip() for line in lines if "ASN1 OID:" in line]
    return OPENSSL_CURVES.get(found[0], found[0]) if found else None


def _extensions(lines: List[str]) -> List[Tuple[str, bool, List[str]]]:
    """Return each extension's OID, critical flag and value lines, in certificate order."""
    try:
        start = next(index for index, line in enumerate(lines) if line.strip() == "X509v3 extensions:") + 1
    except StopIteration:
        return []
    extensions: List[Tuple[str, bool, List[str]]] = []
    for line in lines[start:]:
        indent = len(line) - len(line.lstrip())
        if indent <= 8:  # the "Signature Algorithm" line after the extensions
            break
        if indent == 12:
            header, _, flag = line.strip().partition(":")
            extensions.append((OPENSSL_EXTENSION_OIDS.get(header, header), flag.strip() == "critical", []))
        else:
            extensions[-1][2].append(line.strip())
    return extensions


def split_rfc4514(text: str) -> List[List[str]]:
    """Split an RFC 4514 string into RDNs of attributes, keeping escapes as they are."""
    rdns: List[List[str]] = [[]]
    current = ""
    escaped = False
    for char in text:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char in ",+":
            rdns[-1].append(current)
            current = ""
            if char == ",":
                rdns.append([])
        else:
            current += char
    rdns[-1].append(current)
    return rdns


def normalize_openssl_name(text: str) -> List[List[str]]:
    """Return an RDN list with OpenSSL's attribute names mapped to tlskit's, each RDN sorted."""
    rdns = []
    for rdn in split_rfc4514(text):
        attributes = []
        for attribute in rdn:
            name, _, value = attribute.partition("=")
            attributes.append(f"{OPENSSL_ATTRIBUTE_NAMES.get(name, name)}={value}")
        rdns.append(sorted(attributes))
    return rdns

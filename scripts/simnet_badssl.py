"""Rebuild the badssl.com test hosts inside the simulated internet.

Each case gets a name under ZONE, its own address in 127.40.0.0/16 and its
own nginx server block, so protocol and cipher settings apply per case.
Certificates come from a private hierarchy (root -> intermediate -> leaf)
whose root is appended to the world's CA file, so that scans run with
--ca-file trust the "trusted" cases and no others.

The case table follows the nginx configuration of badssl.com (Apache-2.0,
github.com/chromium/badssl.com), restated here as data. Cases that Debian's
nginx and OpenSSL cannot serve are listed in NOT_BUILT with the reason.

The ground truth (badssl-truth.jsonl) comes from this file's configuration
and from `openssl ciphers`, the library that nginx uses. It shares no code
with posture.
"""

import base64
import dataclasses
import datetime
import json
import os
import random
import re
import subprocess
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ZONE = "badssl.simnet-tls.net"
ADDRESS_PREFIX = "127.40.0."
# Private keys are slow to generate (RSA 8192 takes seconds), and a world is
# regenerated whenever a generator source changes, so keys are kept here
# across worlds. They protect nothing outside the namespace.
KEY_CACHE = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "target", "simnet", "badssl-keys")

# Cipher strings. Every one ends with @SECLEVEL=0 because OpenSSL 3.0 at
# Debian's default security level 2 rejects TLS 1.0 and 1.1, RSA keys under
# 2048 bits, SHA-1 and MD5 certificate signatures, and DH groups under 2048
# bits.
SECLEVEL0 = ":@SECLEVEL=0"
# badssl.com's default list (Mozilla's "intermediate" list of 2015).
DEFAULT_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-DSS-AES128-GCM-SHA256:kEDH+AESGCM:"
    "ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA384:"
    "ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES256-SHA:DHE-RSA-AES128-SHA256:"
    "DHE-RSA-AES128-SHA:DHE-DSS-AES128-SHA256:DHE-RSA-AES256-SHA256:"
    "DHE-DSS-AES256-SHA:DHE-RSA-AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384:"
    "AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:AES:CAMELLIA:"
    "DES-CBC3-SHA:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:!PSK:!aECDH:"
    "!EDH-DSS-DES-CBC3-SHA:!EDH-RSA-DES-CBC3-SHA:!KRB5-DES-CBC3-SHA")
DHE_ONLY_CIPHERS = (
    "DHE-RSA-AES128-GCM-SHA256:DHE-DSS-AES128-GCM-SHA256:kEDH+AESGCM:"
    "DHE-RSA-AES128-SHA256:DHE-RSA-AES128-SHA:DHE-DSS-AES128-SHA256:"
    "DHE-RSA-AES256-SHA256:DHE-DSS-AES256-SHA:DHE-RSA-AES256-SHA:"
    "!aNULL:!eNULL:!EXPORT:!DES:!RC4:!3DES:!MD5:!PSK")
CBC_CIPHERS = ("AES256:AES128:3DES:!AESGCM:!RC4:!aNULL:!eNULL:!EXPORT:!DES:"
               "!MD5:!PSK")
MOZILLA_MODERN_CIPHERS = (
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
    "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256")
MOZILLA_INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:"
    "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:"
    "ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:"
    "DHE-RSA-AES128-SHA:DHE-RSA-AES256-SHA256:DHE-RSA-AES256-SHA:"
    "ECDHE-ECDSA-DES-CBC3-SHA:ECDHE-RSA-DES-CBC3-SHA:EDH-RSA-DES-CBC3-SHA:"
    "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:"
    "AES128-SHA:AES256-SHA:DES-CBC3-SHA:!DSS")
MOZILLA_OLD_CIPHERS = (
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-DSS-AES128-GCM-SHA256:kEDH+AESGCM:"
    "ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA384:"
    "ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES256-SHA:DHE-RSA-AES128-SHA256:"
    "DHE-RSA-AES128-SHA:DHE-DSS-AES128-SHA256:DHE-RSA-AES256-SHA256:"
    "DHE-DSS-AES256-SHA:DHE-RSA-AES256-SHA:ECDHE-RSA-DES-CBC3-SHA:"
    "ECDHE-ECDSA-DES-CBC3-SHA:EDH-RSA-DES-CBC3-SHA:AES128-GCM-SHA256:"
    "AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:AES:"
    "DES-CBC3-SHA:HIGH:SEED:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:!PSK:!RSAPSK:"
    "!aDH:!aECDH:!EDH-DSS-DES-CBC3-SHA:!KRB5-DES-CBC3-SHA:!SRP")
NULL_CIPHERS = "NULL:aNULL:eNULL:!RC4:!EXPORT:!DES:!CBC:!3DES:!MD5:!PSK"
STATIC_RSA_CIPHERS = "kRSA:!eNULL:!PSK"

# badssl.com lists SSLv3 too, but Debian's OpenSSL 3.0 has no SSL 3.0.
LEGACY_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2")
PROTOCOL_TRUTH = {"TLSv1": "tls1.0", "TLSv1.1": "tls1.1", "TLSv1.2": "tls1.2",
                  "TLSv1.3": "tls1.3"}
OPENSSL_VERSION_FLAG = {"TLSv1": "-tls1", "TLSv1.1": "-tls1_1",
                        "TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}


@dataclasses.dataclass
class Case:
    """One badssl host: its certificate, TLS settings and HTTP behaviour.

    http is what port 80 does ("redirect" to https, or "content"), https what
    port 443 does ("content", "to_http" or "to_apex").
    """
    name: str
    cert: str = "wildcard-rsa2048"
    protocols: tuple = LEGACY_PROTOCOLS
    ciphers: str = DEFAULT_CIPHERS
    dhparam: str = "dh2048"
    http: str = "redirect"
    https: str = "content"
    headers: tuple = ()
    client_cert: bool = False


def build_cases():
    # Cases that differ from the default only in their name.
    cases = [Case(name) for name in (
        "", "rsa2048", "sha256", "pinning-test", "mixed", "mixed-form",
        "mixed-script", "long-extended-subdomain-name-containing-many-"
        "letters-and-dashes",
        "longextendedsubdomainnamewithoutdashesinordertotestwordwrapping",
        "subdomain.preloaded-hsts", "wrong.host")]

    # Certificate cases.
    for name in ("rsa512", "rsa1024", "rsa3072", "rsa4096", "rsa8192",
                 "ecc256", "ecc384", "md5", "expired", "self-signed",
                 "untrusted-root", "incomplete-chain", "sha1-intermediate",
                 "sha384", "sha512"):
        cases.append(Case(name, cert=f"wildcard-{name}"))
    cases.append(Case("sha1", cert="wildcard-sha1-2016"))
    cases.append(Case("sha1-2016", cert="wildcard-sha1-2016"))
    cases.append(Case("sha1-2017", cert="wildcard-sha1-2017"))
    for name in ("no-san", "1000-sans", "10000-sans", "captive-portal",
                 "extended-validation", "no-common-name", "no-subject",
                 "reversed-chain", "xn--n1aae7f7o", "superfish",
                 "edellroot", "dsdtestprovider", "preact-cli",
                 "webpack-dev-server", "mitm-software",
                 "blocked-interception", "known-interception"):
        cases.append(Case(name, cert=f"subdomain-{name}"))

    # HTTP behaviour cases.
    cases += [
        Case("spoof", https="to_idn"),
        Case("www", https="to_apex"),
        Case("mixed-favicon", https="to_http"),
    ]
    for name in ("http", "http-credit-card", "http-dynamic-login",
                 "http-login", "http-password", "http-textarea"):
        cases.append(Case(name, http="content", https="to_http"))
    for name in ("lock-title", "spoofed-favicon", "https-everywhere"):
        cases.append(Case(name, http="content"))
    cases += [
        Case("hsts", http="content", headers=(
            ("Strict-Transport-Security", "max-age=15768000; includeSubDomains"),)),
        Case("preloaded-hsts", http="content", headers=(
            ("Strict-Transport-Security",
             "max-age=15768000; includeSubDomains; preload"),)),
        Case("upgrade", headers=(
            ("Content-Security-Policy", "upgrade-insecure-requests"),)),
        Case("client", client_cert=True),
        Case("client-cert-missing", client_cert=True),
    ]

    # Protocol, cipher and DH cases.
    cases += [
        Case("cbc", protocols=("TLSv1.1", "TLSv1.2"), ciphers=CBC_CIPHERS,
             dhparam=None),
        Case("very", protocols=("TLSv1.1", "TLSv1.2"), ciphers=CBC_CIPHERS,
             dhparam=None),
        Case("null", protocols=("TLSv1.1", "TLSv1.2"), ciphers=NULL_CIPHERS,
             dhparam=None),
        Case("static-rsa", protocols=("TLSv1.1", "TLSv1.2"),
             ciphers=STATIC_RSA_CIPHERS, dhparam=None),
        Case("mozilla-modern", protocols=("TLSv1.2",),
             ciphers=MOZILLA_MODERN_CIPHERS, dhparam=None,
             headers=(("Strict-Transport-Security", "max-age=15768000"),)),
        Case("mozilla-intermediate", ciphers=MOZILLA_INTERMEDIATE_CIPHERS),
        Case("mozilla-old", ciphers=MOZILLA_OLD_CIPHERS, dhparam="dh1024"),
        Case("tls-v1-0", protocols=("TLSv1",), ciphers="DEFAULT",
             dhparam=None),
        Case("tls-v1-1", protocols=("TLSv1.1",), ciphers="DEFAULT",
             dhparam=None),
        Case("tls-v1-2", protocols=("TLSv1.2",), ciphers="DEFAULT",
             dhparam=None),
    ]
    for dh in ("dh1024", "dh2048", "dh-composite",
               "dh-small-subgroup"):
        cases.append(Case(dh, protocols=("TLSv1.1", "TLSv1.2"),
                          ciphers=DHE_ONLY_CIPHERS, dhparam=dh))
    return cases


# Cases of badssl.com that this world leaves out, each with the reason. Every
# reason was checked on Debian 12 (OpenSSL 3.0.19, nginx 1.22.1), as
# docs/world.md describes.
NOT_BUILT = {
    "ssl-v2": "OpenSSL 3.0 has no SSL 2.0 code",
    "ssl-v3": "Debian builds OpenSSL without SSL 3.0 (s_server has no -ssl3)",
    "rc4": "Debian's OpenSSL offers no RC4 suite, even with the legacy provider",
    "rc4-md5": "Debian's OpenSSL offers no RC4 suite, even with the legacy provider",
    "3des": "Debian's OpenSSL offers no 3DES suite, even at @SECLEVEL=0 with "
            "the legacy provider",
    "dh480": "OpenSSL 3.0 refuses ephemeral DH groups under 1024 bits, even "
             "at security level 0",
    "dh512": "OpenSSL 3.0 refuses ephemeral DH groups under 1024 bits, even "
             "at security level 0",
    "revoked": "revocation needs a CA's OCSP responder or CRL on the internet",
    "no-sct": "Certificate Transparency needs public logs",
    "invalid-expected-sct": "Certificate Transparency needs public logs",
    "preloaded-expect-ct": "Expect-CT needs public logs and a browser's "
                           "preload list",
}

# Stand-ins for the leaked or interception CAs of badssl.com: each is a
# private root, sent in the chain, that no trust store of the world contains.
PRIVATE_ROOTS = {
    "superfish": "Superfish, Inc. (simnet stand-in)",
    "edellroot": "eDellRoot (simnet stand-in)",
    "dsdtestprovider": "DSDTestProvider (simnet stand-in)",
    "preact-cli": "preact-cli dev CA (simnet stand-in)",
    "webpack-dev-server": "webpack-dev-server dev CA (simnet stand-in)",
    "mitm-software": "MITM software CA (simnet stand-in)",
    "blocked-interception": "blocked interception CA (simnet stand-in)",
    "known-interception": "known interception CA (simnet stand-in)",
}


def fqdn(case_name):
    return f"{case_name}.{ZONE}" if case_name else ZONE


# ---------------------------------------------------------------- keys


def cached_key(name, kind):
    """Return the private key called name, generating it on first use.

    kind is "rsa<bits>" or "ec256"/"ec384".
    """
    os.makedirs(KEY_CACHE, exist_ok=True)
    path = os.path.join(KEY_CACHE, f"{name}-{kind}.pem")
    if not os.path.exists(path):
        if kind == "rsa512":
            # cryptography refuses RSA keys under 1024 bits.
            pem = subprocess.run(["openssl", "genrsa", "512"], check=True,
                                 capture_output=True).stdout
        else:
            if kind.startswith("rsa"):
                key = rsa.generate_private_key(65537, int(kind[3:]))
            else:
                curve = {"ec256": ec.SECP256R1(), "ec384": ec.SECP384R1()}[kind]
                key = ec.generate_private_key(curve)
            pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        temporary = f"{path}.tmp-{os.getpid()}"
        with open(temporary, "wb") as f:
            f.write(pem)
        os.replace(temporary, path)
    # The consistency check of an RSA key costs seconds at 8192 bits, and
    # these keys were written by this function.
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(
            f.read(), None, unsafe_skip_rsa_key_validation=True)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def key_facts(key):
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa", key.key_size
    return "ec", key.curve.key_size


# ---------------------------------------------------------------- certificates


@dataclasses.dataclass
class Issued:
    """A certificate with its key and the facts the truth needs."""
    cert: x509.Certificate
    key: object
    pem: bytes
    signature: str


SIGNATURE_NAMES = {
    ("rsa", "sha256"): "sha256WithRSAEncryption",
    ("rsa", "sha384"): "sha384WithRSAEncryption",
    ("rsa", "sha512"): "sha512WithRSAEncryption",
    ("rsa", "sha1"): "sha1WithRSAEncryption",
    ("rsa", "md5"): "md5WithRSAEncryption",
    ("ec", "sha256"): "ecdsa-with-SHA256",
    ("ec", "sha384"): "ecdsa-with-SHA384",
}


class BadsslCerts:
    """The private hierarchy and every leaf of the badssl cases."""

    def __init__(self, now, workdir):
        self.now = now
        self.workdir = workdir
        self.root = self.make_ca("posture simnet badssl root", "root",
                                 None, path_length=None)
        self.intermediate = self.make_ca(
            "posture simnet badssl intermediate", "intermediate", self.root,
            path_length=0)
        self.sha1_intermediate = self.make_ca(
            "posture simnet badssl SHA-1 intermediate", "sha1-intermediate",
            self.root, path_length=0, digest="sha1")
        # Two intermediates in a row, so that a chain can be sent out of order.
        self.upper = self.make_ca("posture simnet badssl upper intermediate",
                                  "upper", self.root, path_length=1)
        self.lower = self.make_ca("posture simnet badssl lower intermediate",
                                  "lower", self.upper, path_length=0)
        self.untrusted_root = self.make_ca(
            "posture simnet badssl untrusted root", "untrusted-root", None,
            path_length=None)
        self.client_ca = self.make_ca("posture simnet badssl client CA",
                                      "client-ca", None, path_length=None)

    def validity(self, expired=False):
        day = datetime.timedelta(days=1)
        if expired:
            return self.now - 400 * day, self.now - 30 * day
        return self.now - 30 * day, self.now + 365 * day

    def make_ca(self, common_name, key_name, issuer, path_length,
                digest="sha256"):
        key = cached_key(key_name, "rsa2048")
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "posture simnet"),
        ])
        day = datetime.timedelta(days=1)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - 800 * day)
            .not_valid_after(self.now + 3650 * day)
            .add_extension(x509.BasicConstraints(ca=True,
                                                 path_length=path_length),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                key.public_key()), critical=False)
        )
        return self.sign(builder, key, issuer, digest)

    def sign(self, builder, key, issuer, digest):
        """Sign with issuer (None: self-signed) and return an Issued.

        cryptography refuses SHA-1 and MD5 signatures, so those are made by
        signing with SHA-256 first and re-signing with the openssl command.
        """
        if issuer is None:
            issuer_name = builder._subject_name
            issuer_key = key
        else:
            issuer_name = issuer.cert.subject
            issuer_key = issuer.key
        strong = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
                  "sha512": hashes.SHA512()}
        if digest in strong:
            cert = builder.issuer_name(issuer_name).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    issuer_key.public_key()), critical=False,
            ).sign(issuer_key, strong[digest])
        else:
            # openssl x509 -CA re-signs only a certificate that is self-signed
            # (own name, own key, no foreign authority key identifier). It
            # then sets the issuer name and adds the identifier.
            own = builder.issuer_name(builder._subject_name).sign(
                key, hashes.SHA256())
            cert = self.resign(own, issuer, issuer_key, digest)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        issuer_type = key_facts(issuer_key)[0]
        return Issued(cert, key, pem, SIGNATURE_NAMES[(issuer_type, digest)])

    def resign(self, cert, issuer, issuer_key, digest):
        with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            paths = {name: os.path.join(tmp, name)
                     for name in ("in.pem", "ca.pem", "ca.key", "out.pem",
                                  "ext.cnf")}
            with open(paths["ext.cnf"], "w") as f:
                f.write("authorityKeyIdentifier = keyid:always\n")
            with open(paths["in.pem"], "wb") as f:
                f.write(cert.public_bytes(serialization.Encoding.PEM))
            ca_pem = issuer.pem if issuer else cert.public_bytes(
                serialization.Encoding.PEM)
            with open(paths["ca.pem"], "wb") as f:
                f.write(ca_pem)
            with open(paths["ca.key"], "wb") as f:
                f.write(key_pem(issuer_key))
            result = subprocess.run(
                ["openssl", "x509", "-in", paths["in.pem"],
                 "-CA", paths["ca.pem"], "-CAkey", paths["ca.key"],
                 f"-{digest}", "-preserve_dates",
                 "-extfile", paths["ext.cnf"],
                 "-set_serial", str(cert.serial_number),
                 "-out", paths["out.pem"]],
                capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"openssl x509 failed to re-sign with "
                                   f"{digest}: {result.stderr}")
            with open(paths["out.pem"], "rb") as f:
                return x509.load_pem_x509_certificate(f.read())

    def leaf(self, names, key, issuer, digest="sha256", expired=False,
             subject="cn", extra_sans=0, policy=None):
        """Issue a server certificate for names (the first one is the CN).

        subject is "cn", "organization" (no CN), "empty" (and a critical SAN)
        or "no_san" (CN only, no subjectAltName extension).
        """
        if subject == "cn" or subject == "no_san":
            subject_name = x509.Name([
                x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        elif subject == "organization":
            subject_name = x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                   "posture simnet")])
        else:
            subject_name = x509.Name([])
        not_before, not_after = self.validity(expired)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                key.public_key()), critical=False)
        )
        if subject != "no_san":
            sans = list(names) + [
                f"san{index}.{names[0].lstrip('*.')}"
                for index in range(extra_sans)]
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]),
                critical=subject == "empty")
        if policy:
            builder = builder.add_extension(x509.CertificatePolicies([
                x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]),
                critical=False)
        return self.sign(builder, key, issuer, digest)


@dataclasses.dataclass
class ServedChain:
    """The chain that one certificate file makes nginx send, with its facts."""
    certs: list
    verdict: str
    names: list
    san_count: int
    expired: bool = False
    self_signed: bool = False
    untrusted_root: bool = False
    incomplete_chain: bool = False
    weak_signature: bool = False
    chain_order_correct: bool = True


def build_chains(certs, case_names):
    """Return {certificate file name: ServedChain} for the cases' files."""
    wildcard = [f"*.{ZONE}", ZONE]
    inter = certs.intermediate
    chains = {}

    def add(file_name, leaf, served_above, verdict, names, **flags):
        sans = 0 if flags.pop("no_san", False) else \
            len(names) + flags.pop("extra_sans", 0)
        chains[file_name] = ServedChain([leaf] + served_above, verdict,
                                        names, sans, **flags)

    rsa2048 = cached_key("leaf", "rsa2048")
    add("wildcard-rsa2048", certs.leaf(wildcard, rsa2048, inter), [inter],
        "trusted", wildcard)
    for bits in (512, 1024, 3072, 4096, 8192):
        key = cached_key("leaf", f"rsa{bits}")
        verdict = "weak_key" if bits < 2048 else "trusted"
        add(f"wildcard-rsa{bits}", certs.leaf(wildcard, key, inter), [inter],
            verdict, wildcard)
    for size in (256, 384):
        key = cached_key("leaf", f"ec{size}")
        add(f"wildcard-ecc{size}", certs.leaf(wildcard, key, inter), [inter],
            "trusted", wildcard)
    for digest in ("sha384", "sha512"):
        add(f"wildcard-{digest}",
            certs.leaf(wildcard, rsa2048, inter, digest=digest), [inter],
            "trusted", wildcard)
    for file_name, digest in (("wildcard-md5", "md5"),
                              ("wildcard-sha1-2016", "sha1"),
                              ("wildcard-sha1-2017", "sha1")):
        add(file_name, certs.leaf(wildcard, rsa2048, inter, digest=digest),
            [inter], "weak_signature", wildcard, weak_signature=True)
    add("wildcard-sha1-intermediate",
        certs.leaf(wildcard, rsa2048, certs.sha1_intermediate),
        [certs.sha1_intermediate], "weak_signature", wildcard,
        weak_signature=True)
    add("wildcard-expired", certs.leaf(wildcard, rsa2048, inter, expired=True),
        [inter], "expired", wildcard, expired=True)
    add("wildcard-self-signed", certs.leaf(wildcard, rsa2048, None), [],
        "self_signed", wildcard, self_signed=True)
    add("wildcard-untrusted-root",
        certs.leaf(wildcard, rsa2048, certs.untrusted_root),
        [certs.untrusted_root], "untrusted_root", wildcard,
        untrusted_root=True)
    add("wildcard-incomplete-chain", certs.leaf(wildcard, rsa2048, inter), [],
        "incomplete_chain", wildcard, incomplete_chain=True)

    def subdomain(case):
        return [fqdn(case)]

    for case, extra in (("1000-sans", 999), ("10000-sans", 9999)):
        add(f"subdomain-{case}",
            certs.leaf(subdomain(case), rsa2048, inter, extra_sans=extra),
            [inter], "trusted", subdomain(case), extra_sans=extra)
    for case in ("xn--n1aae7f7o", "extended-validation"):
        # 2.23.140.1.1 is the CA/Browser Forum's EV policy identifier.
        policy = "2.23.140.1.1" if case == "extended-validation" else None
        add(f"subdomain-{case}",
            certs.leaf(subdomain(case), rsa2048, inter, policy=policy),
            [inter], "trusted", subdomain(case))
    captive = [fqdn("login.captive-portal")]
    add("subdomain-captive-portal", certs.leaf(captive, rsa2048, inter),
        [inter], "name_mismatch", captive)
    add("subdomain-no-common-name",
        certs.leaf(subdomain("no-common-name"), rsa2048, inter,
                   subject="organization"),
        [inter], "trusted", subdomain("no-common-name"))
    add("subdomain-no-subject",
        certs.leaf(subdomain("no-subject"), rsa2048, inter, subject="empty"),
        [inter], "trusted", subdomain("no-subject"))
    # Clients stopped reading the CN in place of a SAN (RFC 6125, 6.4.4 and
    # the CA/Browser Forum's baseline requirements), so this is a mismatch.
    add("subdomain-no-san",
        certs.leaf(subdomain("no-san"), rsa2048, inter, subject="no_san"),
        [inter], "name_mismatch", subdomain("no-san"), no_san=True)
    # Sent as leaf, upper, lower: the upper intermediate comes before the
    # lower one that issued the leaf.
    add("subdomain-reversed-chain",
        certs.leaf(subdomain("reversed-chain"), rsa2048, certs.lower),
        [certs.upper, certs.lower], "trusted", subdomain("reversed-chain"),
        chain_order_correct=False)
    for case, common_name in PRIVATE_ROOTS.items():
        root = certs.make_ca(common_name, f"private-{case}", None,
                             path_length=None)
        add(f"subdomain-{case}", certs.leaf(subdomain(case), rsa2048, root),
            [root], "untrusted_root", subdomain(case), untrusted_root=True)
    return {name: chain for name, chain in chains.items() if name in case_names}


def hostname_matches(host, pattern):
    """RFC 6125 section 6.4.3: a wildcard stands for exactly one left label."""
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return host == pattern


# ---------------------------------------------------------------- DH groups


def dh_params(name, workdir):
    """Return PEM DH parameters for the dhparam file name."""
    if name == "dh2048":
        # RFC 7919 ffdhe2048, from OpenSSL's built-in table.
        return subprocess.run(
            ["openssl", "genpkey", "-genparam", "-algorithm", "DH",
             "-pkeyopt", "group:ffdhe2048"],
            check=True, capture_output=True).stdout
    if name == "dh1024":
        p, g = dsa_style_group(int(name[2:]))
        return dh_pem(p, g)
    if name == "dh-composite":
        # A 2048-bit odd modulus with the factor 3.
        return dh_pem(3 * ((1 << 2046) + 1), 2)
    if name == "dh-small-subgroup":
        return small_subgroup_params()
    raise ValueError(f"unknown DH parameters {name}")


def small_subgroup_params():
    """Return a 1024-bit prime p with a generator g of order 3.

    p - 1 has the factor 3, so g = h^((p-1)/3) has order 3 and the shared
    secret takes one of only three values.
    """
    rng = random.Random(1024)
    while True:
        p = 2 * 3 * 5 * 7 * rng.getrandbits(1016) + 1
        if p.bit_length() == 1024 and is_probable_prime(p, rng):
            break
    for h in range(2, 100):
        g = pow(h, (p - 1) // 3, p)
        if g != 1:
            return dh_pem(p, g)
    raise AssertionError("every h in 2..99 is a cube modulo p")


def is_probable_prime(n, rng, rounds=32):
    """Miller-Rabin test."""
    if n % 2 == 0:
        return n == 2
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def dsa_style_group(bits):
    """Return (p, g) of a DSA-style group, p = kq + 1 with q prime.

    These take milliseconds where a safe prime of 1024 bits takes seconds.
    openssl writes them in the X9.42 format, which OpenSSL's s_server does
    not load, so the caller rewrites them as PKCS #3 parameters.
    """
    text = subprocess.run(
        ["openssl", "dhparam", "-dsaparam", "-text", "-noout", str(bits)],
        check=True, capture_output=True, stdin=subprocess.DEVNULL).stdout.decode()
    return parse_openssl_integer(text, "P"), parse_openssl_integer(text, "G")


def parse_openssl_integer(text, label):
    match = re.search(rf"^\s*{label}:\s*\n((?:\s+[0-9a-f:]+\n)+)", text,
                      re.MULTILINE | re.IGNORECASE)
    return int(re.sub(r"[\s:]", "", match.group(1)), 16)


def dh_pem(p, g):
    """PKCS #3 DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER }."""
    def der_length(length):
        if length < 0x80:
            return bytes([length])
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        return bytes([0x80 | len(raw)]) + raw

    def der_integer(value):
        raw = value.to_bytes(value.bit_length() // 8 + 1, "big")
        return b"\x02" + der_length(len(raw)) + raw

    body = der_integer(p) + der_integer(g)
    der = b"\x30" + der_length(len(body)) + body
    lines = base64.encodebytes(der).decode().replace("\n", "")
    wrapped = "\n".join(lines[i:i + 64] for i in range(0, len(lines), 64))
    return (f"-----BEGIN DH PARAMETERS-----\n{wrapped}\n"
            f"-----END DH PARAMETERS-----\n").encode()


def dh_bits(name):
    return {"dh1024": 1024, "dh2048": 2048,
            "dh-composite": 2048, "dh-small-subgroup": 1024}.get(name)


# ---------------------------------------------------------------- ciphers


# Weak categories, judged on the fields `openssl ciphers -v` prints.
def weak_categories(kx, au, enc, name):
    categories = set()
    if enc.startswith("RC4"):
        categories.add("rc4")
    if enc.startswith("3DES"):
        categories.add("3des")
    if "EXP" in name:
        categories.add("export")
    if enc == "None":
        categories.add("null")
    if au == "None":
        categories.add("anon")
    if kx in ("RSA", "DH/RSA", "DH/DSS", "ECDH/RSA", "ECDH/ECDSA"):
        categories.add("no_forward_secrecy")
    return categories


def offered_suites(case, key_type, workdir, cache):
    """Return {protocol: [(suite, categories)]} that nginx will accept.

    OpenSSL lists the suites the cipher string enables per version. A suite
    needs a certificate of its type (none for anonymous ones), and DHE ones
    need nginx's ssl_dhparam: nginx 1.22 sets no DH group otherwise.
    """
    offered = {}
    for protocol in case.protocols:
        key = (case.ciphers, protocol)
        if key not in cache:
            result = subprocess.run(
                ["openssl", "ciphers", "-v", "-s",
                 OPENSSL_VERSION_FLAG[protocol], case.ciphers + SECLEVEL0],
                capture_output=True, text=True, cwd=workdir)
            cache[key] = result.stdout.splitlines() if result.returncode == 0 \
                else []
        suites = []
        for line in cache[key]:
            fields = dict(field.split("=", 1) for field in line.split()[2:]
                          if "=" in field)
            name, kx, au, enc = line.split()[0], fields["Kx"], fields["Au"], \
                fields["Enc"]
            if protocol != "TLSv1.3" and line.split()[1] == "TLSv1.3":
                continue
            if au not in ("None", "any", {"rsa": "RSA", "ec": "ECDSA"}[key_type]):
                continue
            if kx in ("DH",) and case.dhparam is None:
                continue
            if kx not in ("RSA", "DH", "ECDH", "any"):
                continue
            suites.append((name, sorted(weak_categories(kx, au, enc, name))))
        if suites:
            offered[protocol] = suites
    return offered


# ---------------------------------------------------------------- output


def generate(out, now, write_file, ca_file):
    """Write the badssl certificates, keys and truth into the world at out.

    Returns (zone records [(owner, type, rdata)], nginx server blocks).
    The badssl root is appended to ca_file.
    """
    workdir = os.path.join(out, "badssl")
    os.makedirs(workdir, exist_ok=True)
    certs = BadsslCerts(now, workdir)
    cases = build_cases()
    chains = build_chains(certs, {case.cert for case in cases})
    with open(ca_file, "ab") as f:
        f.write(certs.root.pem)
    write_file(out, "badssl/ca/root.pem", certs.root.pem)
    write_file(out, "badssl/ca/client-ca.pem", certs.client_ca.pem)
    for file_name, chain in chains.items():
        write_file(out, f"badssl/certs/{file_name}.pem",
                   b"".join(issued.pem for issued in chain.certs))
        write_file(out, f"badssl/certs/{file_name}.key",
                   key_pem(chain.certs[0].key), 0o600)
    dh_files = set()
    for case in cases:
        if case.dhparam and case.dhparam not in dh_files:
            write_file(out, f"badssl/dh/{case.dhparam}.pem",
                       dh_params(case.dhparam, workdir))
            dh_files.add(case.dhparam)

    records = []
    blocks = []
    truth = []
    cipher_cache = {}
    for index, case in enumerate(cases, start=1):
        address = f"{ADDRESS_PREFIX}{index}"
        name = fqdn(case.name)
        records.append((name, "A", address))
        blocks.append(server_block(case, name, address))
        chain = chains[case.cert]
        truth.append(case_truth(case, name, address, chain, workdir,
                                cipher_cache))
    for case_name, reason in sorted(NOT_BUILT.items()):
        truth.append({"case": case_name, "name": fqdn(case_name),
                      "built": False, "reason": reason})
    write_file(out, "badssl-truth.jsonl", "".join(
        json.dumps(row, sort_keys=True) + "\n" for row in truth))
    return records, blocks


def case_truth(case, name, address, chain, workdir, cipher_cache):
    leaf = chain.certs[0]
    key_type, key_bits = key_facts(leaf.key)
    name_ok = any(hostname_matches(name, pattern) for pattern in chain.names) \
        and chain.san_count > 0
    verdict = chain.verdict
    if verdict == "trusted" and not name_ok:
        verdict = "name_mismatch"

    offered = offered_suites(case, key_type, workdir, cipher_cache)
    versions = {label: protocol in offered
                for protocol, label in PROTOCOL_TRUTH.items()}
    versions["ssl3"] = False
    weak = sorted({category for suites in offered.values()
                   for _, categories in suites for category in categories})
    weak_key = (key_type == "rsa" and key_bits < 2048) or \
        (key_type == "ec" and key_bits < 256)
    issuer = leaf.cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)

    return {
        "case": case.name or "(apex)",
        "name": name,
        "address": address,
        "port": 443,
        "built": True,
        "cert_file": case.cert,
        "cert_verdict": verdict,
        "name_mismatch": not name_ok,
        "expired": chain.expired,
        "self_signed": chain.self_signed,
        "untrusted_root": chain.untrusted_root,
        "incomplete_chain": chain.incomplete_chain,
        "weak_key": weak_key,
        "weak_signature": chain.weak_signature,
        "key_type": key_type,
        "key_bits": key_bits,
        "signature_algorithm": leaf.signature,
        "issuer_cn": issuer[0].value if issuer else None,
        "san_count": chain.san_count,
        "chain_length": len(chain.certs),
        "chain_order_correct": chain.chain_order_correct,
        "not_after": leaf.cert.not_valid_after_utc.strftime(
            "%Y-%m-%dT%H:%M:%SZ"),
        "versions": versions,
        "weak_ciphers": weak,
        "suites": {PROTOCOL_TRUTH[protocol]: [suite for suite, _ in suites]
                   for protocol, suites in offered.items()},
        "dh_bits": dh_bits(case.dhparam) if any(
            suite.startswith(("DHE-", "EDH-")) for suites in offered.values()
            for suite, _ in suites) else None,
        "client_cert_requested": case.client_cert,
        "http": case.http,
        "https": case.https,
        "headers": dict(case.headers),
    }


def server_block(case, name, address):
    cert = f"@WORLD_DIR@/badssl/certs/{case.cert}"
    lines = [
        "    server {",
        f"        listen {address}:80 default_server;",
        f"        listen {address}:443 ssl default_server;",
        f"        server_name {name};",
        f"        ssl_certificate {cert}.pem;",
        f"        ssl_certificate_key {cert}.key;",
        f"        ssl_protocols {' '.join(case.protocols)};",
        f'        ssl_ciphers "{case.ciphers}{SECLEVEL0}";',
        "        ssl_prefer_server_ciphers on;",
    ]
    if case.dhparam:
        lines.append(
            f"        ssl_dhparam @WORLD_DIR@/badssl/dh/{case.dhparam}.pem;")
    if case.client_cert:
        lines += [
            "        ssl_verify_client on;",
            "        ssl_client_certificate "
            "@WORLD_DIR@/badssl/ca/client-ca.pem;",
        ]
    for header, value in case.headers:
        lines.append(f'        add_header {header} "{value}" always;')
    https_target = {"to_http": f"http://{name}$request_uri",
                    "to_apex": f"https://{ZONE}$request_uri",
                    "to_idn": f"https://{fqdn('xn--n1aae7f7o')}$request_uri"}
    if case.http == "redirect":
        lines.append("        if ($scheme = http) "
                     "{ return 301 https://$host$request_uri; }")
    if case.https in https_target:
        lines.append("        if ($scheme = https) "
                     f"{{ return 301 {https_target[case.https]}; }}")
    lines.append(f'        return 200 "simnet badssl {case.name or "(apex)"}\\n";')
    lines.append("    }")
    return "\n".join(lines) + "\n"

#!/usr/bin/env python3
"""Generate a simulated internet ("world") for posture's tests.

The world is a directory with zone files, NSD/Unbound/nginx configuration
templates, certificates and truth.jsonl, the expected posture output for every
input line. scripts/simnet starts the servers. This generator is the
independent oracle for posture, so it shares no code with it.

Configuration files are templates: scripts/simnet replaces @WORLD_DIR@ and
@RUN_DIR@ when it starts a run, so a world can move and several runs can share
one world.
"""

import argparse
import csv
import datetime
import functools
import gzip
import hashlib
import io
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor

import idna
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from publicsuffixlist import PublicSuffixList

import simnet_badssl
import simnet_dnssec
import simnet_email
import simnet_http

# Addresses of the world. Everything is on 127.0.0.0/8 or ::1 so that no
# packet can leave the network namespace.
ROOT_NS_ADDR = "127.0.1.1"
TLD_NS_ADDR = "127.0.2.1"
DOMAINS_NS_ADDRS = ("127.0.3.1", "127.0.3.2")
LAME_NS_ADDR = "127.0.3.9"
# A second Unbound that drops every query it receives (access-control deny),
# so the name servers of the unresponsive profile never respond.
SILENT_NS_ADDRS = ("127.0.3.10", "127.0.3.11")
# A third address of the domains' NSD, in another /24 than the first two.
EXTRA_NS_ADDR = "127.0.4.1"
RESOLVER_ADDR = "127.0.0.53"
HOST_A_V4 = "127.10.0.1"
HOST_A_V6 = "::1"
HOST_HTTP_ONLY = "127.10.0.2"
HOST_B = "127.10.0.3"
# nginx's ssl_protocols of each tls_legacy profile, set by the default
# server of each address.
TLS_POLICIES = {
    "tls12_minimum": "TLSv1.2 TLSv1.3",
    "tls10_offered": "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3",
    "tls11_minimum": "TLSv1.1 TLSv1.2 TLSv1.3",
    "tls12_maximum": "TLSv1.2",
}
# The suites of every web host: nginx's default list. The server picked by
# the SNI brings its own security level, and OpenSSL 3.0 at Debian's level 2
# fails TLS 1.0 and 1.1 handshakes with an internal_error alert, hence
# @SECLEVEL=0 on every server. The versions still come from the default
# server of the address.
TLS_CIPHERS = "HIGH:!aNULL:!MD5:@SECLEVEL=0"
# Hosts A and B again, with the TLS policy of a tls_legacy profile: nginx
# accepts the policy's versions on these addresses. The IPv6 address of host A
# (::1) keeps the tls12_minimum policy.
LEGACY_HOSTS = {
    ("tls10_offered", HOST_A_V4): "127.10.1.1",
    ("tls10_offered", HOST_B): "127.10.1.3",
    ("tls11_minimum", HOST_A_V4): "127.10.2.1",
    ("tls11_minimum", HOST_B): "127.10.2.3",
    ("tls12_maximum", HOST_A_V4): "127.10.3.1",
    ("tls12_maximum", HOST_B): "127.10.3.3",
}
MX1_ADDR = "127.20.0.1"
MX2_ADDR = "127.20.0.2"
# IPv6 addresses that only DNS publishes: Unbound and NSD run without IPv6.
EXTRA_NS_ADDR_V6 = "::1"
MX2_ADDR_V6 = "::1"

INFRA_DNS_ZONE = "simnet-dns.net"
INFRA_MAIL_ZONE = "simmail.net"
# A DMARC report receiver that accepts reports for every domain, with a
# wildcard authorization record (RFC 7489, section 7.1).
INFRA_REPORTS_ZONE = "simreports.net"
ROOT_NS_NAME = "root.simnet-dns.net"
TLD_NS_NAME = "tld.simnet-dns.net"
DOMAIN_NS_NAMES = ("ns1.simnet-dns.net", "ns2.simnet-dns.net")
LAME_NS_NAME = "lame.simnet-dns.net"
SILENT_NS_NAMES = ("silent1.simnet-dns.net", "silent2.simnet-dns.net")
EXTRA_NS_NAME = "ns3.simnet-dns.net"
MISMATCH_NAME = "mismatch.simnet-dns.net"

SPF_SOFT = "v=spf1 include:_spf.simmail.net ~all"
SPF_HARD = "v=spf1 include:_spf.simmail.net -all"
SPF_NONE = "v=spf1 -all"
MX_BOTH = [(10, "mx1.simmail.net"), (20, "mx2.simmail.net")]
MX_ONE = [(10, "mx1.simmail.net")]
MX_NULL = [(0, ".")]
TTL = 3600
NEGATIVE_TTL = 300

def load_weights(path):
    """Read each dimension's profile weights from the world description, in
    its order, which is also the coverage order."""
    with open(path, "rb") as f:
        world = tomllib.load(f)
    return {dimension: {name: profile["weight"]
                        for name, profile in world[dimension]["profiles"].items()}
            for dimension in ("web", "dnssec", "dmarc", "hygiene",
                              "tls_legacy", "www_certificate")
            + simnet_http.HTTP_DIMENSIONS}


WORLD_WEIGHTS = load_weights(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "datasets", "world.toml"))
# Profile name -> weight in percent, from datasets/world.toml (which names the
# source of each figure). The order is also the order in which the first
# domains of a list of 50 or more names get one profile each.
PROFILE_WEIGHTS = WORLD_WEIGHTS["web"]
assert sum(PROFILE_WEIGHTS.values()) == 100
PROFILES = list(PROFILE_WEIGHTS)
COVERAGE_MIN_DOMAINS = 50
# Profiles delegated to name servers that return no usable response: the lame
# server returns REFUSED and the silent servers never respond. No zone exists
# for these names, and the resolver returns SERVFAIL for every query.
DEAD_DELEGATION_PROFILES = ("lame", "unresponsive")
# Profiles whose names the resolver cannot resolve.
UNRESOLVABLE_PROFILES = ("nxdomain",) + DEAD_DELEGATION_PROFILES

# DNSSEC profile -> weight in percent. It is a second dimension, drawn
# independently of the web/mail profile, except that nxdomain, lame and
# unresponsive domains have no zone and so are always "unsigned". The order
# is also the coverage order of a list of 50 or more names.
DNSSEC_WEIGHTS = WORLD_WEIGHTS["dnssec"]
assert sum(DNSSEC_WEIGHTS.values()) == 100
DNSSEC_PROFILES = list(DNSSEC_WEIGHTS)
# Profiles whose zone is signed, and those with a DS record at the parent.
DNSSEC_SIGNED = {"dnssec_secure", "dnssec_secure_nsec3", "dnssec_secure_rsasha1",
                 "dnssec_insecure_no_ds", "dnssec_bogus_expired",
                 "dnssec_bogus_not_yet_valid", "dnssec_bogus_ds_mismatch"}
DNSSEC_WITH_DS = {"dnssec_secure", "dnssec_secure_nsec3", "dnssec_secure_rsasha1",
                  "dnssec_insecure_unsupported_algorithm", "dnssec_bogus_expired",
                  "dnssec_bogus_not_yet_valid", "dnssec_bogus_ds_mismatch",
                  "dnssec_bogus_no_dnskey"}
DNSSEC_SECURE = {"dnssec_secure", "dnssec_secure_nsec3", "dnssec_secure_rsasha1"}
DNSSEC_BOGUS_REASON = {
    "dnssec_bogus_expired": "signature_expired",
    "dnssec_bogus_not_yet_valid": "signature_not_yet_valid",
    "dnssec_bogus_ds_mismatch": "ds_no_matching_dnskey",
    "dnssec_bogus_no_dnskey": "no_dnskey",
}
# Zones signed by ldns-signzone instead of the in-process signer: (ldns-keygen
# algorithm, key bits, NSEC3 (iterations, salt) or None, DS digest types).
# Every signed profile but the plain secure one, so that each insecure and
# bogus case comes from a real signing tool. RFC 9276 recommends 0 NSEC3
# iterations and no salt, but the NSEC3 zone uses both, as many zones still do.
LDNS_SIGNED = {
    "dnssec_secure_nsec3": ("ECDSAP256SHA256", None, (10, "5eed"), (2,)),
    "dnssec_secure_rsasha1": ("RSASHA1", 1024, None, (1, 2)),
    "dnssec_insecure_no_ds": ("ECDSAP256SHA256", None, None, (2,)),
    "dnssec_bogus_expired": ("ECDSAP256SHA256", None, None, (2,)),
    "dnssec_bogus_not_yet_valid": ("ECDSAP256SHA256", None, None, (2,)),
    "dnssec_bogus_ds_mismatch": ("ECDSAP256SHA256", None, None, (2,)),
}
# A DS record whose algorithm number IANA has not assigned: a validator
# supports none of the zone's algorithms and treats it as insecure (RFC 4035,
# section 5.2). The zone itself is unsigned.
UNSUPPORTED_ALGORITHM = 100
# Algorithms and DS digest types that RFC 8624 advises against, written out
# here so that the truth shares nothing with posture's tables.
RFC8624_DEPRECATED_ALGORITHMS = {"RSASHA1": 5}
RFC8624_DEPRECATED_DIGESTS = {1}
# The root is signed, and so is each TLD or ICANN suffix zone (co.uk) except
# those whose hash of (seed, name) falls in the lowest UNSIGNED_SUFFIX_PERCENT.
# These suffixes are always signed.
ALWAYS_SIGNED_SUFFIXES = {"com", "net", "org", "uk", "co.uk"}
UNSIGNED_SUFFIX_PERCENT = 20
# Valid signatures span the generation time, and expire after scripts/simnet
# stops reusing a world (7 days). Expired ones ended a month before it.
SIGNATURE_VALID_SINCE = datetime.timedelta(days=1)
SIGNATURE_VALID_FOR = datetime.timedelta(days=30)
EXPIRED_SIGNATURE_SPAN = (datetime.timedelta(days=60),
                          datetime.timedelta(days=30))
# Signatures that start to be valid after the world's reuse period ends.
NOT_YET_VALID_SIGNATURE_SPAN = (datetime.timedelta(days=10),
                                datetime.timedelta(days=40))

# Certificate kind served on 443, per profile. Profiles absent here have no
# HTTPS listener for their address.
CERT_KIND = {
    "modern": "trusted",
    "typical": "trusted",
    "no_redirect": "trusted",
    "redirect_elsewhere": "trusted",
    "expired": "expired",
    "not_yet_valid": "not_yet_valid",
    "self_signed": "self_signed",
    "name_mismatch": "name_mismatch",
    "unknown_issuer": "unknown_issuer",
    "no_mail": "trusted",
    "null_mx": "trusted",
}
CERT_VERDICT = {
    "trusted": "trusted",
    "expired": "expired",
    "not_yet_valid": "not_yet_valid",
    "self_signed": "self_signed",
    "name_mismatch": "name_mismatch",
    "unknown_issuer": "unknown_issuer",
}

# Header names of the domain column, in order of preference (posture's
# default for --column).
DOMAIN_COLUMNS = ("domain", "host", "hostname", "website", "url", "site",
                  "fqdn")
DNS_TYPES = ("a", "aaaa", "ns", "mx", "txt")
LDH_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class WorldError(Exception):
    pass


# ---------------------------------------------------------------- input


def read_input(path):
    """Read the domain file and return (header_present, [(line_no, field)]).

    Three formats are accepted: headerless Tranco CSV (`rank,domain`), CSV with
    a header that names one of DOMAIN_COLUMNS, and one domain per line, each
    optionally gzip-compressed (`.gz`). line_no is the 1-based line where the
    record starts, counting a header line.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    if not lines:
        return False, []
    first = next(csv.reader([lines[0]]), [])
    header = [field.strip().lower() for field in first]
    for name in DOMAIN_COLUMNS:
        if name in header:
            column = header.index(name)
            return True, read_csv_records(text, column, skip_header=True)
    if len(first) >= 2 and first[0].strip().isdigit():
        return False, read_csv_records(text, 1, skip_header=False)
    return False, [(number, line) for number, line in enumerate(lines, start=1)]


def read_csv_records(text, column, skip_header):
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    previous_end = 0
    for row in reader:
        start = previous_end + 1
        previous_end = reader.line_num
        if skip_header and start == 1:
            continue
        records.append((start, row[column] if column < len(row) else ""))
    return records


ICANN_PSL = PublicSuffixList(only_icann=True)


def normalise(field, psl):
    """Return (domain, None) for a scannable name or (None, reason)."""
    name = field.strip()
    if not name:
        return None, "empty"

    # Strip a URL down to its host: scheme, path, user info and port.
    name = SCHEME.sub("", name)
    name = re.split(r"[/?#]", name, maxsplit=1)[0]
    name = name.rsplit("@", 1)[-1]
    if name.startswith("["):
        return None, "ip_address"
    if name.count(":") == 1:
        host, port = name.split(":")
        if port.isdigit():
            name = host
    if name.endswith("."):
        name = name[:-1]

    try:
        ipaddress.ip_address(name)
        return None, "ip_address"
    except ValueError:
        pass
    try:
        domain = idna.encode(name, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        return None, "invalid_label"

    labels = domain.split(".")
    if len(domain) > 253:
        return None, "too_long"
    if any(not LDH_LABEL.match(label) for label in labels):
        return None, "invalid_label"
    if len(labels) < 2:
        return None, "single_label"
    # Only ICANN suffixes are rejected: a private-section suffix such as cloudfront.net is a
    # site run by one operator, which posture scans.
    if ICANN_PSL.is_public(domain):
        return None, "public_suffix"
    return domain, None


def to_unicode(domain):
    try:
        return idna.decode(domain)
    except (idna.IDNAError, UnicodeError, ValueError):
        return domain


def hash_fraction(seed, domain):
    digest = hashlib.sha256(f"{seed}:{domain}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10000


def weighted_choice(weights, point):
    """Return the key of weights (in percent) whose range contains point."""
    cumulative = 0
    for profile, weight in weights.items():
        cumulative += weight * 100
        if point < cumulative:
            return profile
    raise AssertionError("weights do not cover 0..9999")


def weighted_profile(seed, domain):
    return weighted_choice(PROFILE_WEIGHTS, hash_fraction(seed, domain))


def weighted_dnssec_profile(seed, domain):
    # A distinct hash input keeps the two dimensions independent.
    return weighted_choice(DNSSEC_WEIGHTS,
                           hash_fraction(seed, f"dnssec:{domain}"))


def suffix_is_signed(seed, suffix):
    if suffix in ALWAYS_SIGNED_SUFFIXES:
        return True
    return hash_fraction(seed, f"suffix:{suffix}") >= \
        UNSIGNED_SUFFIX_PERCENT * 100


def suffix_zones(domain):
    """Return the TLD and ICANN suffix zones above domain, top first.

    Every ICANN public suffix on the way down gets a zone, e.g. uk and co.uk
    for example.co.uk.
    """
    zones = [domain.rsplit(".", 1)[-1]]
    suffix = ICANN_PSL.publicsuffix(domain)
    if suffix and "." in suffix:
        chain = [suffix] + parent_names(suffix)
        for candidate in reversed(chain):
            if candidate != suffix and not ICANN_PSL.is_public(candidate):
                continue
            if candidate not in zones:
                zones.append(candidate)
    return zones


def parent_names(domain):
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels))]


# ---------------------------------------------------------------- model


def build_domains(records, psl, seed):
    """Classify input lines and assign profiles.

    Returns (rows, domains): rows has one dict per input line, domains maps
    each scannable name to its record.
    """
    rows = []
    domains = {}
    for line_no, field in records:
        domain, reason = normalise(field, psl)
        row = {"input_line": line_no, "input": field}
        if domain is None:
            row.update(status="invalid_input", reason=reason)
        elif domain in domains:
            row.update(status="duplicate", domain=domain)
        else:
            row.update(status="ok", domain=domain)
            domains[domain] = row
        rows.append(row)

    for name in domains:
        if name == INFRA_DNS_ZONE or name.endswith("." + INFRA_DNS_ZONE) or \
                name == INFRA_MAIL_ZONE or name.endswith("." + INFRA_MAIL_ZONE):
            raise WorldError(
                f"domain {name} is inside the simnet infrastructure zones "
                f"{INFRA_DNS_ZONE}/{INFRA_MAIL_ZONE}; remove it from the list")

    # The first domains of a large enough list get one profile each, so that
    # small test worlds contain every case. Nested names are skipped there
    # because they may inherit their parent's DNS failure.
    forced = {}
    if len(domains) >= COVERAGE_MIN_DOMAINS:
        pending = list(PROFILES)
        for name in domains:
            if not pending:
                break
            if any(parent in domains for parent in parent_names(name)):
                continue
            forced[name] = pending.pop(0)

    # Parents before children, so a child can inherit from its parent.
    for name in sorted(domains, key=lambda n: n.count(".")):
        row = domains[name]
        row["profile"] = forced.get(name) or weighted_profile(seed, name)
        parent = next((p for p in parent_names(name) if p in domains), None)
        row["parent_domain"] = parent
        if parent and domains[parent]["profile"] in UNRESOLVABLE_PROFILES:
            # A name below an undelegated, lame or unresponsive parent cannot
            # resolve on its own, because the resolver never reaches a zone
            # for it.
            row["profile"] = domains[parent]["profile"]
            row["inherited_from"] = parent
    assign_dnssec_profiles(domains, seed)
    assign_hygiene_profiles(domains, seed)
    assign_dmarc_profiles(domains, seed)
    assign_tls_profiles(domains, seed)
    assign_http_profiles(domains, seed)
    assign_www_certificates(domains, seed)
    simnet_email.assign_profiles(domains, seed)
    return rows, domains


def assign_tls_profiles(domains, seed):
    """Set each domain's "tls_legacy" profile, None for a domain without an
    HTTPS listener. In a list of 50 or more names, the first names with an
    HTTPS listener and no listed parent get one profile each."""
    weights = WORLD_WEIGHTS["tls_legacy"]
    assert sum(weights.values()) == 100
    eligible = [name for name, row in domains.items()
                if row["profile"] in CERT_KIND and not row["parent_domain"]]
    forced = {}
    if len(domains) >= COVERAGE_MIN_DOMAINS:
        # tls12_maximum goes to the first modern name, whose AAAA address
        # (::1) accepts TLS 1.3, so that its two addresses negotiate
        # different versions.
        split = next((name for name in eligible
                      if domains[name]["profile"] == "modern"), None)
        others = [name for name in eligible if name != split]
        profiles = [profile for profile in weights
                    if profile != "tls12_maximum"]
        forced = dict(zip(others, profiles))
        if split and "tls12_maximum" in weights:
            forced[split] = "tls12_maximum"
    for name, row in domains.items():
        row["tls_legacy"] = None
        if row["profile"] in CERT_KIND:
            row["tls_legacy"] = forced.get(name) or weighted_choice(
                weights, hash_fraction(seed, f"tls_legacy:{name}"))


def assign_dnssec_profiles(domains, seed):
    """Set each domain's "dnssec_profile".

    In a list of 50 or more names, the first names that could show every
    case get one DNSSEC profile each: names without a listed parent, with a
    zone (not nxdomain, lame or unresponsive) and below signed suffix zones
    only.
    """
    forced = {}
    if len(domains) >= COVERAGE_MIN_DOMAINS:
        pending = list(DNSSEC_PROFILES)
        for name, row in domains.items():
            if not pending:
                break
            if row["parent_domain"] or row["profile"] in UNRESOLVABLE_PROFILES:
                continue
            if not all(suffix_is_signed(seed, suffix)
                       for suffix in suffix_zones(name)):
                continue
            forced[name] = pending.pop(0)
    for name, row in domains.items():
        if row["profile"] in UNRESOLVABLE_PROFILES:
            row["dnssec_profile"] = "unsigned"
        else:
            row["dnssec_profile"] = forced.get(name) or \
                weighted_dnssec_profile(seed, name)


# ---------------------------------------------------------------- certificates


class CertFactory:
    """Issue the world's certificates with one shared ECDSA P-256 leaf key."""

    def __init__(self, now):
        self.now = now
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.untrusted_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_cert = self.make_ca("posture simnet CA", self.ca_key)
        self.untrusted_cert = self.make_ca("simnet untrusted CA",
                                           self.untrusted_key)
        self.leaf_public = self.leaf_key.public_key()
        self.leaf_ski = x509.SubjectKeyIdentifier.from_public_key(
            self.leaf_public)

    def make_ca(self, common_name, key):
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "posture simnet"),
        ])
        public = key.public_key()
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - datetime.timedelta(days=800))
            .not_valid_after(self.now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public),
                critical=False)
            .sign(key, hashes.SHA256())
        )

    def validity(self, kind):
        days = datetime.timedelta(days=1)
        if kind == "expired":
            return self.now - 400 * days, self.now - 30 * days
        if kind == "not_yet_valid":
            return self.now + 30 * days, self.now + 400 * days
        return self.now - 30 * days, self.now + 365 * days

    def issue(self, kind, domain, other_names=()):
        """Return (PEM bytes, notAfter) of a leaf for domain of this kind.

        other_names join domain in the subjectAltName, except for a
        name_mismatch certificate, which names MISMATCH_NAME only.
        """
        name_in_cert = MISMATCH_NAME if kind == "name_mismatch" else domain
        alt_names = [name_in_cert]
        if kind != "name_mismatch":
            alt_names += list(other_names)
        subject = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, name_in_cert)])
        if kind == "self_signed":
            issuer_name, issuer_key = subject, self.leaf_key
            issuer_public = self.leaf_public
        elif kind == "unknown_issuer":
            issuer_name = self.untrusted_cert.subject
            issuer_key, issuer_public = self.untrusted_key, \
                self.untrusted_key.public_key()
        else:
            issuer_name, issuer_key = self.ca_cert.subject, self.ca_key
            issuer_public = self.ca_key.public_key()
        not_before, not_after = self.validity(kind)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(self.leaf_public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(name) for name in alt_names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(self.leaf_ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    issuer_public), critical=False)
            .sign(issuer_key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), not_after

    def write_keys(self, out):
        def key_pem(key):
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())

        def cert_pem(cert):
            return cert.public_bytes(serialization.Encoding.PEM)

        write_file(out, "ca/simnet-ca.pem", cert_pem(self.ca_cert))
        write_file(out, "ca/simnet-ca.key", key_pem(self.ca_key), 0o600)
        write_file(out, "ca/untrusted-ca.pem", cert_pem(self.untrusted_cert))
        write_file(out, "ca/untrusted-ca.key", key_pem(self.untrusted_key),
                   0o600)
        write_file(out, "certs/leaf.key", key_pem(self.leaf_key), 0o600)


def write_file(out, relative, data, mode=0o644):
    path = os.path.join(out, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def rfc3339(moment):
    return moment.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- DNS data


@functools.cache
def verification_token(domain):
    """Return a 300-character TXT value, stored as two strings (255 + 45)."""
    prefix = "simnet-site-verification="
    material = ""
    counter = 0
    while len(prefix) + len(material) < 300:
        material += hashlib.sha256(f"{domain}:{counter}".encode()).hexdigest()
        counter += 1
    return (prefix + material)[:300]


def dns_records(profile, domain, tls_legacy=None):
    """Return the apex data of a domain zone as a dict type -> values.

    MX values are (preference, exchange) pairs. TXT values are lists of the
    record's strings. tls_legacy is the domain's tls_legacy profile, which
    moves its IPv4 address to the host of that TLS policy.
    """
    records = profile_records(profile, domain)
    records["a"] = [policy_address(address, tls_legacy)
                    for address in records["a"]]
    return records


def policy_address(address, tls_legacy):
    """Return the address of address's host with the TLS policy of the
    tls_legacy profile."""
    return LEGACY_HOSTS.get((tls_legacy, address), address)


def profile_records(profile, domain):
    if profile == "modern":
        return {"a": [HOST_A_V4], "aaaa": [HOST_A_V6], "mx": MX_BOTH,
                "txt": [[SPF_HARD], split_txt(verification_token(domain))]}
    if profile == "typical":
        return {"a": [HOST_B], "aaaa": [], "mx": MX_ONE, "txt": [[SPF_SOFT]]}
    if profile == "no_https":
        return {"a": [HOST_HTTP_ONLY], "aaaa": [], "mx": MX_ONE,
                "txt": [[SPF_SOFT]]}
    if profile == "no_mail":
        return {"a": [HOST_B], "aaaa": [], "mx": [], "txt": []}
    if profile == "null_mx":
        return {"a": [HOST_B], "aaaa": [], "mx": MX_NULL, "txt": [[SPF_NONE]]}
    if profile == "no_web":
        return {"a": [], "aaaa": [], "mx": MX_ONE, "txt": [[SPF_SOFT]]}
    # no_redirect, redirect_elsewhere and the certificate-defect profiles.
    return {"a": [HOST_A_V4], "aaaa": [], "mx": MX_ONE, "txt": [[SPF_SOFT]]}


def split_txt(value):
    return [value[i:i + 255] for i in range(0, len(value), 255)]


def txt_rdata(strings):
    return " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
                    for s in strings)


class Zone:
    """One DNS zone: its name, the server that hosts it and its records.

    dnssec is a DNSSEC profile name, and signer the simnet_dnssec.ZoneSigner
    of a signed zone (None when the zone is unsigned).
    """

    def __init__(self, name, server, ns_names):
        self.name = name
        self.server = server
        self.ns_names = list(ns_names)
        self.records = []
        self.dnssec = "unsigned"
        self.signer = None

    def add(self, owner, rtype, rdata):
        self.records.append((owner, rtype, rdata))

    def fqdn(self, owner):
        return "." if owner == "" else owner + "."

    def render(self, serial):
        origin = self.fqdn(self.name)
        soa_mname = self.ns_names[0] + "."
        soa = (f"{soa_mname} hostmaster.{INFRA_DNS_ZONE}. "
               f"{serial} 7200 3600 1209600 {NEGATIVE_TTL}")
        records = [(self.name, "SOA", soa)]
        records += [(self.name, "NS", ns + ".") for ns in self.ns_names]
        records += self.records
        lines = [f"$ORIGIN {origin}", f"$TTL {TTL}"]
        for owner, rtype, rdata in records:
            lines.append(f"{self.fqdn(owner)} IN {rtype} {rdata}")
        if isinstance(self.signer, simnet_dnssec.LdnsSigner):
            return self.signer.sign_zone("\n".join(lines) + "\n")
        if self.signer:
            # NSEC records take the SOA minimum as TTL (RFC 4035, 2.3).
            lines += self.signer.sign_records(self.name, records, TTL,
                                              NEGATIVE_TTL)
        return "\n".join(lines) + "\n"


def closest_zone(name, zones):
    for candidate in parent_names(name) + [""]:
        if candidate in zones:
            return zones[candidate]
    raise AssertionError("root zone missing")


def build_zones(domains, seed, now, extra_zones):
    """Create every zone of the world and the delegations between them.

    extra_zones maps the name of an unsigned zone on the domains server to
    its records [(owner, type, rdata)]. Returns (zones, root KSK). Signing
    happens when a zone is rendered.
    """
    zones = {"": Zone("", "root", [ROOT_NS_NAME])}

    def add_zone(name, server, ns_names):
        if name not in zones:
            zones[name] = Zone(name, server, ns_names)

    add_zone("net", "tld", [TLD_NS_NAME])
    for name in domains:
        for suffix in suffix_zones(name):
            add_zone(suffix, "tld", [TLD_NS_NAME])

    add_zone(INFRA_DNS_ZONE, "domains", DOMAIN_NS_NAMES)
    add_zone(INFRA_MAIL_ZONE, "domains", DOMAIN_NS_NAMES)
    add_zone(INFRA_REPORTS_ZONE, "domains", DOMAIN_NS_NAMES)
    for name, records in extra_zones.items():
        add_zone(name, "domains", DOMAIN_NS_NAMES)
        for record in records:
            zones[name].add(*record)
    dead_delegations = {}
    for name, row in domains.items():
        if row["profile"] == "nxdomain":
            continue
        if row["profile"] in DEAD_DELEGATION_PROFILES:
            dead_delegations[name] = row["profile"]
            continue
        add_zone(name, "domains", zone_ns_names(row))

    # Delegations: each zone's parent is the closest enclosing zone.
    for name, zone in zones.items():
        if name == "":
            continue
        parent = closest_zone(name, zones)
        for ns in zone.ns_names:
            parent.add(name, "NS", ns + ".")
    for name, profile in dead_delegations.items():
        parent = closest_zone(name, zones)
        if parent.name == name:
            continue
        ns_names = (LAME_NS_NAME,) if profile == "lame" else SILENT_NS_NAMES
        for ns in ns_names:
            parent.add(name, "NS", ns + ".")

    infra_hosts = {
        ROOT_NS_NAME: ROOT_NS_ADDR,
        TLD_NS_NAME: TLD_NS_ADDR,
        DOMAIN_NS_NAMES[0]: DOMAINS_NS_ADDRS[0],
        DOMAIN_NS_NAMES[1]: DOMAINS_NS_ADDRS[1],
        LAME_NS_NAME: LAME_NS_ADDR,
        SILENT_NS_NAMES[0]: SILENT_NS_ADDRS[0],
        SILENT_NS_NAMES[1]: SILENT_NS_ADDRS[1],
        EXTRA_NS_NAME: EXTRA_NS_ADDR,
    }
    # Glue: the root and net zones carry the addresses of all name servers,
    # which sit below their delegations of net and simnet-dns.net.
    for host, address in infra_hosts.items():
        zones[""].add(host, "A", address)
        zones["net"].add(host, "A", address)
        zones[INFRA_DNS_ZONE].add(host, "A", address)
    zones[INFRA_DNS_ZONE].add(MISMATCH_NAME, "A", HOST_A_V4)
    mail = zones[INFRA_MAIL_ZONE]
    mail.add("mx1." + INFRA_MAIL_ZONE, "A", MX1_ADDR)
    mail.add("mx2." + INFRA_MAIL_ZONE, "A", MX2_ADDR)
    mail.add("mx2." + INFRA_MAIL_ZONE, "AAAA", MX2_ADDR_V6)
    add_hygiene_records(zones, domains)
    add_dmarc_records(zones, domains)
    simnet_email.add_records(zones, domains)
    mail.add("_spf." + INFRA_MAIL_ZONE, "TXT",
             txt_rdata(["v=spf1 ip4:127.20.0.0/24 -all"]))

    for name, row in domains.items():
        if name not in zones:
            continue
        zone = zones[name]
        data = dns_records(row["profile"], name, row["tls_legacy"])
        for address in data["a"]:
            zone.add(name, "A", address)
        for address in data["aaaa"]:
            zone.add(name, "AAAA", address)
        for preference, exchange in data["mx"]:
            target = "." if exchange == "." else exchange + "."
            zone.add(name, "MX", f"{preference} {target}")
        for strings in data["txt"]:
            zone.add(name, "TXT", txt_rdata(strings))

    root_ksk = add_dnssec(zones, domains, seed, now)
    return zones, root_ksk


def add_dnssec(zones, domains, seed, now):
    """Give zones their DNSSEC profile and signer, and add DS records.

    Returns the root's key-signing key, the world's trust anchor.
    """
    valid = (now - SIGNATURE_VALID_SINCE, now + SIGNATURE_VALID_FOR)
    expired = (now - EXPIRED_SIGNATURE_SPAN[0],
               now - EXPIRED_SIGNATURE_SPAN[1])
    not_yet_valid = (now + NOT_YET_VALID_SIGNATURE_SPAN[0],
                     now + NOT_YET_VALID_SIGNATURE_SPAN[1])
    ldns_zones = []
    for name, zone in zones.items():
        if name == "":
            zone.dnssec = "dnssec_secure"
        elif zone.server == "tld":
            signed = suffix_is_signed(seed, name)
            zone.dnssec = "dnssec_secure" if signed else "unsigned"
        elif name in domains:
            zone.dnssec = domains[name]["dnssec_profile"]
        # The infrastructure zones stay unsigned.
        if zone.dnssec in DNSSEC_SIGNED:
            period = {"dnssec_bogus_expired": expired,
                      "dnssec_bogus_not_yet_valid": not_yet_valid}.get(
                          zone.dnssec, valid)
            if zone.dnssec in LDNS_SIGNED:
                ldns_zones.append((name, zone, period))
            else:
                zone.signer = simnet_dnssec.ZoneSigner(*period)

    def make_ldns_signer(item):
        name, zone, period = item
        algorithm, bits, nsec3, _ = LDNS_SIGNED[zone.dnssec]
        zone.signer = simnet_dnssec.LdnsSigner(
            name, *period, algorithm=algorithm, bits=bits, nsec3=nsec3)

    # ldns-keygen runs once per zone, so its processes run side by side.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(make_ldns_signer, ldns_zones))

    # One key that no zone publishes makes the DS of every mismatch and
    # no-DNSKEY zone point at a missing key.
    stray_key = simnet_dnssec.DnssecKey(simnet_dnssec.FLAGS_KSK)
    for name, zone in zones.items():
        if name == "" or zone.dnssec not in DNSSEC_WITH_DS:
            continue
        parent = closest_zone(name, zones)
        if zone.dnssec == "dnssec_insecure_unsupported_algorithm":
            digest = hashlib.sha256(name.encode()).hexdigest().upper()
            parent.add(name, "DS", f"4242 {UNSUPPORTED_ALGORITHM} 2 {digest}")
            continue
        if zone.dnssec in ("dnssec_bogus_ds_mismatch",
                           "dnssec_bogus_no_dnskey"):
            key = stray_key
        else:
            key = zone.signer.ksk
        if isinstance(key, simnet_dnssec.PublishedKey):
            for digest_type in LDNS_SIGNED[zone.dnssec][3]:
                parent.add(name, "DS", key.ds_text(name, digest_type))
        else:
            parent.add(name, "DS", key.ds_text(name))
    return zones[""].signer.ksk


def dnssec_validation(name, profile, zones):
    """Return (state, reason, zone) that a validating resolver finds.

    Walks the zones from the root down to name. The first zone that is not
    secure decides the state, and zone names it. An unsigned zone or one
    without DS is an insecure delegation. A name that does not exist
    (nxdomain) below secure zones is secure, because the parent's signed
    NSEC authenticates the NXDOMAIN (RFC 4035, section 4.3).
    """
    chain = [zone for zone in parent_names(name)[::-1] + [name]
             if zone in zones]
    state, reason, decided_at = "secure", None, None
    for zone_name in chain:
        kind = zones[zone_name].dnssec
        if kind in DNSSEC_BOGUS_REASON:
            state, reason = "bogus", DNSSEC_BOGUS_REASON[kind]
        elif kind == "dnssec_insecure_unsupported_algorithm":
            state, reason = "insecure", "unsupported_algorithm"
        elif kind not in DNSSEC_SECURE:
            state, reason = "insecure", "no_ds"
        else:
            continue
        decided_at = zone_name
        break
    if profile in DEAD_DELEGATION_PROFILES and state != "bogus":
        # The resolver gets no answer, whatever the DNSSEC state above.
        return "indeterminate", "resolver_failure", decided_at
    if profile == "nxdomain" and state == "secure":
        return state, reason, closest_zone(name, zones).name
    return state, reason, decided_at


# ---------------------------------------------------------------- truth


def truth_rows(rows, domains, psl, certs_not_after, http_world):
    for row in rows:
        truth = {"input_line": row["input_line"], "input": row["input"],
                 "status": row["status"]}
        if row["status"] == "invalid_input":
            truth.update(profile="invalid_input", domain=None)
            yield truth
            continue
        if row["status"] == "duplicate":
            truth.update(profile="duplicate", domain=row["domain"])
            yield truth
            continue
        name = row["domain"]
        profile = row["profile"]
        truth["profile"] = profile
        if row.get("inherited_from"):
            truth["_inherited_from"] = row["inherited_from"]
        # A private-section suffix is its own registrable domain under the ICANN rules.
        lookup = ICANN_PSL if psl.is_public(name) else psl
        truth.update(
            domain=name,
            domain_unicode=to_unicode(name),
            registrable_domain=lookup.privatesuffix(name),
            public_suffix=lookup.publicsuffix(name),
        )
        state, reason, decided_at = row["dnssec"]
        truth.update(dnssec_state=state, dnssec_reason=reason)
        truth.update(dnssec_zone_truth(row["dnssec_profile"]))
        truth["_dnssec_profile"] = row["dnssec_profile"]
        if decided_at not in (None, name):
            truth["_dnssec_decided_at"] = decided_at or "."
        # A validating resolver returns SERVFAIL for every query for a name
        # whose validation is bogus.
        bogus = state == "bogus"
        tls_legacy = domains[name]["tls_legacy"]
        if tls_legacy:
            truth["_tls_legacy"] = tls_legacy
        if domains[name]["www_certificate"] == "not_covered":
            truth["_www_certificate"] = "not_covered"
        truth.update(dns_truth(profile, name, bogus, tls_legacy))
        truth.update(web_truth(profile, name, certs_not_after.get(name),
                               tls_legacy,
                               bogus))
        truth.update(http_columns_truth(http_world, name, domains[name],
                                        truth))
        truth.update(tls_truth(http_world, domains, name, bogus))
        truth.update(spf_truth(profile, name, bogus))
        truth.update(hygiene_truth(name, domains, bogus))
        truth.update(dmarc_truth(name, domains, psl, truth))
        truth.update(simnet_email.truth(name, domains[name], truth))
        yield truth


def dnssec_zone_truth(profile):
    """Expected DNSSEC columns that describe the domain's own zone: its denial
    of existence and the algorithms and digests RFC 8624 advises against."""
    result = {"dnssec_denial": None, "dnssec_nsec3_iterations": None,
              "dnssec_nsec3_salt_length": None,
              "dnssec_deprecated_algorithms": None,
              "dnssec_deprecated_digest_types": None}
    if profile in DNSSEC_SIGNED:
        result["dnssec_denial"] = "nsec"
    if profile in LDNS_SIGNED:
        algorithm, _, nsec3, digests = LDNS_SIGNED[profile]
        if nsec3:
            iterations, salt = nsec3
            result.update(dnssec_denial="nsec3",
                          dnssec_nsec3_iterations=iterations,
                          dnssec_nsec3_salt_length=len(bytes.fromhex(salt)))
        if algorithm in RFC8624_DEPRECATED_ALGORITHMS:
            result["dnssec_deprecated_algorithms"] = [
                RFC8624_DEPRECATED_ALGORITHMS[algorithm]]
        deprecated = sorted(set(digests) & RFC8624_DEPRECATED_DIGESTS)
        result["dnssec_deprecated_digest_types"] = deprecated or None
    return result


# Facts of each SPF record the world publishes, written out by hand: (all qualifier as
# a result name, include targets, DNS-querying terms, IPv4 addresses the policy passes).
# _spf.simmail.net passes 127.20.0.0/24, 256 addresses.
SPF_FACTS = {
    SPF_HARD: ("fail", ["_spf.simmail.net"], 1, 256),
    SPF_SOFT: ("softfail", ["_spf.simmail.net"], 1, 256),
    SPF_NONE: ("fail", [], 0, 0),
}


def spf_truth(profile, name, bogus=False):
    """Expected SPF columns: present, absent (no record, or no such name) or unknown."""
    columns = ("spf_records", "spf_valid", "spf_error", "spf_all", "spf_all_implied",
               "spf_lookups", "spf_void_lookups", "spf_includes", "spf_pass_all",
               "spf_ptr", "spf_deprecated_spf2", "spf_authorized_ipv4")
    result = {column: None for column in columns}
    if profile in DEAD_DELEGATION_PROFILES or bogus:
        # posture names the cause when its DNSSEC check found the zone bogus.
        result["spf_outcome"] = "bogus" if bogus else "unknown"
        return result
    records = [] if profile == "nxdomain" else [
        "".join(strings) for strings in dns_records(profile, name)["txt"]
        if "".join(strings).startswith("v=spf1")]
    if not records:
        result["spf_outcome"] = "absent"
        return result
    (record,) = records
    qualifier, includes, lookups, authorized = SPF_FACTS[record]
    result.update(
        spf_outcome="present", spf_records=records, spf_valid=True, spf_all=qualifier,
        spf_all_implied=False, spf_lookups=lookups, spf_void_lookups=0,
        spf_includes=includes or None, spf_pass_all=False, spf_ptr=False,
        spf_deprecated_spf2=False, spf_authorized_ipv4=authorized)
    return result


def dns_truth(profile, name, bogus=False, tls_legacy=None):
    result = {}
    if profile in UNRESOLVABLE_PROFILES or bogus:
        outcome = "bogus" if bogus else \
            "nxdomain" if profile == "nxdomain" else "servfail"
        for rtype in DNS_TYPES:
            result[f"dns_{rtype}_outcome"] = outcome
            result[f"dns_{rtype}"] = None
        return result
    data = dns_records(profile, name, tls_legacy)
    values = {
        "a": sorted(data["a"]),
        "aaaa": sorted(data["aaaa"]),
        "ns": sorted(DOMAIN_NS_NAMES),
        "mx": [{"preference": p, "exchange": e}
               for p, e in sorted(data["mx"])],
        "txt": sorted("".join(strings) for strings in data["txt"]),
    }
    for rtype in DNS_TYPES:
        has_data = bool(values[rtype])
        result[f"dns_{rtype}_outcome"] = "data" if has_data else "no_data"
        result[f"dns_{rtype}"] = values[rtype] if has_data else None
    return result


def empty_web(prefix, outcome, address=None):
    result = {f"{prefix}_outcome": outcome, f"{prefix}_address": address,
              f"{prefix}_status": None}
    if prefix == "https":
        result.update(https_tls_version=None, https_cert_verdict=None,
                      https_cert_not_after=None)
    else:
        result.update(http_location=None, http_redirects_to_https=None)
    return result


def web_truth(profile, name, not_after, tls_legacy, bogus=False):
    if profile in DEAD_DELEGATION_PROFILES or bogus:
        outcome = "dns_bogus" if bogus else "dns_failure"
        return {**empty_web("https", outcome), **empty_web("http", outcome)}
    if profile in ("nxdomain", "no_web"):
        return {**empty_web("https", "no_address"),
                **empty_web("http", "no_address")}
    address = dns_records(profile, name, tls_legacy)["a"][0]
    if profile == "no_https":
        result = empty_web("https", "connect_refused", address)
    else:
        result = {
            "https_outcome": "ok",
            "https_address": address,
            "https_status": 200,
            "https_tls_version": negotiated_version(address),
            "https_cert_verdict": CERT_VERDICT[CERT_KIND[profile]],
            "https_cert_not_after": rfc3339(not_after),
        }
    location = http_redirect_target(profile, name)
    result.update(
        http_outcome="ok",
        http_address=address,
        http_status=301 if location else 200,
        http_location=location,
        http_redirects_to_https=bool(location) and
        location.startswith(f"https://{name}/"),
    )
    return result


def http_columns_truth(http_world, name, row, truth):
    """Expected hop-by-hop HTTP columns, and the first-response columns
    (https_status, http_status, http_location, http_redirects_to_https) that
    the redirect shapes change. truth contains web_truth's columns, which the
    chains must agree with."""
    result, chains = simnet_http.http_truth(http_world, name)
    for dimension in simnet_http.HTTP_DIMENSIONS:
        result[f"_{dimension}"] = row[dimension]
    if row["www_address"]:
        result["_www_served"] = True
    for scheme in ("https", "http"):
        chain = chains[scheme]
        if chain.outcome != truth[f"{scheme}_outcome"]:
            raise AssertionError(
                f"{name}: the {scheme} chain starts with {chain.outcome}, "
                f"web_truth says {truth[f'{scheme}_outcome']}")
        first = chain.hops[0][1] if chain.hops else None
        result[f"{scheme}_status"] = first.status if first else None
    first = chains["http"].hops[0][1] if chains["http"].hops else None
    if first is not None:
        location = first.location
        redirected = 300 <= first.status <= 399 and location is not None
        result["http_location"] = location if redirected else None
        result["http_redirects_to_https"] = redirected and \
            location.startswith("https://") and \
            location[len("https://"):].split("/")[0] == name
    return result


# Versions that the default server of each HTTPS address accepts, as
# TLS_POLICIES sets them.
POLICY_VERSIONS = {
    "tls12_minimum": ("1_2", "1_3"),
    "tls10_offered": ("1_0", "1_1", "1_2", "1_3"),
    "tls11_minimum": ("1_1", "1_2", "1_3"),
    "tls12_maximum": ("1_2",),
}
PROBED_VERSIONS = ("ssl3", "tls1_0", "tls1_1", "tls1_2", "tls1_3")
# The tls check's verdict for each certificate verdict of the web check. The
# unknown issuer is a CA whose certificate nginx does not send, so the chain
# stops at a certificate whose issuer is neither sent nor trusted.
TLS_CERT_VERDICT = {
    "trusted": "trusted",
    "expired": "expired",
    "not_yet_valid": "not_yet_valid",
    "self_signed": "self_signed",
    "name_mismatch": "name_mismatch",
    "unknown_issuer": "incomplete_chain",
}
# From worst to best, as docs/schema.md orders tls_cert_verdict.
TLS_VERDICT_ORDER = ("no_certificate", "self_signed", "untrusted_root",
                     "incomplete_chain", "expired", "not_yet_valid",
                     "name_mismatch", "invalid", "weak_signature", "weak_key",
                     "trusted")


def address_policy(address):
    """Return the tls_legacy profile whose versions address accepts."""
    for (profile, _), legacy in LEGACY_HOSTS.items():
        if legacy == address:
            return profile
    return "tls12_minimum"


def negotiated_version(address):
    """Return the version rustls negotiates with the web host at address:
    TLS 1.3 where the host accepts it, else TLS 1.2 (rustls speaks no
    older version)."""
    versions = POLICY_VERSIONS[address_policy(address)]
    return "TLSv1.3" if "1_3" in versions else "TLSv1.2"


def name_addresses(domains, host):
    """Return the addresses of host (a listed name or www.NAME), A before
    AAAA, or [] when it does not resolve."""
    row = domains.get(host)
    if row is not None:
        if failed_name(row, row["dnssec"][0] == "bogus"):
            return []
        data = dns_records(row["profile"], host, row["tls_legacy"])
        return data["a"] + data["aaaa"]
    outcome, address = resolver(domains)(host)
    return [address] if outcome == "ok" else []


def tls_truth(http_world, domains, name, bogus):
    """Expected tls_* columns that follow from the world's nginx
    configuration: the handshakes that complete, the versions the probed
    addresses accept, the certificate verdicts and the disagreements."""
    row = domains[name]
    targets = []
    if not failed_name(row, bogus):
        targets = [(name, address) for address in
                   name_addresses(domains, name)[:4]]
        # Like the www chains, posture tries no www of a www name.
        if not name.startswith("www."):
            targets += [("www." + name, address) for address in
                        name_addresses(domains, "www." + name)[:4]]
    # host -> (negotiated version, verdict) of each completed handshake, in
    # the order posture makes them.
    completed = {}
    probed = set()
    for host, address in targets:
        endpoint = http_world.endpoints.get(("https", host))
        if endpoint is not None and address in endpoint.addresses:
            verdict = TLS_CERT_VERDICT[http_world.verdicts[host]]
            completed.setdefault(host, []).append(
                (negotiated_version(address), verdict))
            probed.add(address)
        elif address in http_world.tls_defaults:
            # nginx rejects the handshake of a name it does not serve, and
            # posture still probes the address.
            probed.add(address)

    result = {}
    accepted = set()
    for address in probed:
        accepted.update(POLICY_VERSIONS[address_policy(address)])
    for version in PROBED_VERSIONS:
        short = version.removeprefix("tls")
        result[f"tls_{version}_offered"] = \
            (short in accepted) if probed else None
    # Every web host serves ECDHE-ECDSA suites only (one ECDSA key, the
    # HIGH list of TLS_CIPHERS), so no weak category is ever accepted.
    result.update(
        tls_weak_categories=[] if probed else None,
        tls_weak_cipher_count=0 if probed else None,
        tls_export_offered=False if probed else None,
        tls_forward_secrecy=True if probed else None,
    )

    handshakes = [handshake for host_handshakes in completed.values()
                  for handshake in host_handshakes]
    versions = [version for version, _ in handshakes]
    verdicts = [verdict for _, verdict in handshakes]
    # The suite follows from the version here: every host has one ECDSA key
    # and the same cipher list, so comparing versions and verdicts is
    # comparing what posture compares. nginx has no HTTP/2 here, so tls_h2
    # is false.
    result.update(
        tls_version=min(versions, key=("TLSv1.2", "TLSv1.3").index)
        if versions else None,
        tls_h2=False if verdicts else None,
        tls_cert_verdict=min(verdicts, key=TLS_VERDICT_ORDER.index)
        if verdicts else None,
        tls_addresses_disagree=any(len(set(host_handshakes)) > 1
                                   for host_handshakes in completed.values())
        if verdicts else None,
    )
    # The name and its www are compared on the first completed handshake of
    # each, A records before AAAA, as posture compares them.
    www = "www." + name
    both = name in completed and www in completed
    result["tls_names_disagree"] = \
        completed[name][0] != completed[www][0] if both else None
    return result


def http_redirect_target(profile, name):
    if profile in ("no_redirect", "no_https"):
        return None
    if profile == "redirect_elsewhere":
        return f"https://www.{name}/"
    return f"https://{name}/"


# ---------------------------------------------------------------- HTTP


# Web profiles whose HTTPS certificate is trusted and whose http://NAME/
# redirects to https://NAME/: every HTTP case fits them, so they take the
# coverage profiles of the HTTP dimensions.
HTTP_COVERAGE_WEB_PROFILES = ("modern", "typical", "no_mail", "null_mx")
# Hygiene cases that give www.NAME an address (HOST_B), where nginx serves
# the domain's www site.
WWW_SERVED_HYGIENE = ("wildcard", "www_cname_chain")


def assign_http_profiles(domains, seed):
    """Set each domain's profile of every HTTP dimension, its "www_address"
    (where www.NAME is served, or None) and its "off_host_target".

    In a list of 50 or more names, the first names with a trusted,
    redirecting web profile, no listed parent and a DNSSEC profile that is
    not bogus get one profile of each dimension each.
    """
    eligible = [name for name, row in domains.items()
                if row["profile"] in HTTP_COVERAGE_WEB_PROFILES
                and not row["parent_domain"]
                and row["dnssec_profile"] not in DNSSEC_BOGUS_REASON]
    for dimension in simnet_http.HTTP_DIMENSIONS:
        weights = WORLD_WEIGHTS[dimension]
        assert sum(weights.values()) == 100, dimension
        forced = {}
        if len(domains) >= COVERAGE_MIN_DOMAINS:
            forced = dict(zip(eligible, list(weights)))
        for name, row in domains.items():
            row[dimension] = forced.get(name) or weighted_choice(
                weights, hash_fraction(seed, f"{dimension}:{name}"))
    for name, row in domains.items():
        row["www_address"] = www_address(name, row, domains)
    # Off-host redirects go to www.NAME where it is served, else to the first
    # eligible domain that serves its home page without a redirect shape.
    anchor = next((name for name in eligible
                   if domains[name]["redirect_shape"] == "normal"), None)
    for name, row in domains.items():
        if row["www_address"]:
            row["off_host_target"] = f"https://www.{name}/"
        else:
            row["off_host_target"] = f"https://{anchor}/" if anchor \
                else f"https://www.{name}/"


def www_address(name, row, domains):
    """Return the address where nginx serves www.NAME, or None.

    www.NAME has an address through the wildcard and www_cname_chain hygiene
    cases (HOST_B), and through an A record of its own for redirect_elsewhere
    domains, whose http://NAME/ redirects there. A www that is a listed name,
    a dangling alias or an empty non-terminal gets none.
    """
    if row["profile"] in UNRESOLVABLE_PROFILES + ("no_web",):
        return None
    case = row["hygiene_profile"]
    if case in WWW_SERVED_HYGIENE:
        return HOST_B
    if row["profile"] == "redirect_elsewhere" and case != "www_cname_dangling" \
            and "www." + name not in domains and not row["www_is_nonterminal"]:
        return dns_records(row["profile"], name, row["tls_legacy"])["a"][0]
    return None


def assign_www_certificates(domains, seed):
    """Set each domain's "www_certificate" profile: whether the certificate
    that nginx serves for NAME and www.NAME names www.NAME too.

    Only a domain whose www is served over HTTPS with a trusted certificate
    can draw not_covered, which makes www.NAME a name mismatch while NAME
    stays trusted. In a list of 50 or more names the first such domain gets
    it.
    """
    weights = WORLD_WEIGHTS["www_certificate"]
    assert sum(weights.values()) == 100
    eligible = [name for name, row in domains.items()
                if row["www_address"]
                and CERT_KIND.get(row["profile"]) == "trusted"]
    forced = set(eligible[:1]) if len(domains) >= COVERAGE_MIN_DOMAINS \
        else set()
    for name, row in domains.items():
        row["www_certificate"] = "covered"
        if name in forced:
            row["www_certificate"] = "not_covered"
        elif name in eligible:
            row["www_certificate"] = weighted_choice(
                weights, hash_fraction(seed, f"www_certificate:{name}"))


def www_has_own_address(row):
    """Return whether www.NAME carries an A record in NAME's zone."""
    return bool(row["www_address"]) and \
        row["hygiene_profile"] not in WWW_SERVED_HYGIENE


def count_http_profiles(domains):
    counts = {}
    for dimension in simnet_http.HTTP_DIMENSIONS:
        dimension_counts = counts.setdefault(dimension, {})
        for row in domains.values():
            profile = row[dimension]
            dimension_counts[profile] = dimension_counts.get(profile, 0) + 1
    return counts


def site_addresses(row):
    """Return the addresses that nginx serves a domain on, as (HTTP
    addresses, HTTPS addresses)."""
    profile = row["profile"]
    records = dns_records(profile, "", row["tls_legacy"])
    address = records["a"]
    if not address:
        return [], []
    # nginx serves every site of host A on its IPv6 address too.
    base = profile_records(profile, "")["a"]
    hosts = address + [HOST_A_V6] if base[0] == HOST_A_V4 else address
    https = [] if profile == "no_https" else hosts
    return hosts, https


def resolver(domains):
    """Return resolve(host) for the hosts the HTTP chains visit: listed names,
    www.NAME of listed names and the target of the redirect_refused shape. It
    returns (outcome, IPv4-first address)."""
    failure_outcome = {"nxdomain": "no_address", "servfail": "dns_failure",
                       "bogus": "dns_bogus"}

    def resolve(host):
        if host == simnet_http.REFUSED_REDIRECT_HOST:
            return "ok", MX1_ADDR
        row = domains.get(host)
        if row is not None:
            failure = failed_name(row, row["dnssec"][0] == "bogus")
            if failure:
                return failure_outcome[failure], None
            addresses = dns_records(row["profile"], host,
                                    row["tls_legacy"])["a"]
            return ("ok", addresses[0]) if addresses else ("no_address", None)
        parent = domains.get(host[len("www."):]) if host.startswith("www.") \
            else None
        if parent is None:
            return "no_address", None
        failure = failed_name(parent, parent["dnssec"][0] == "bogus")
        if failure:
            return failure_outcome[failure], None
        if parent["www_address"]:
            return "ok", parent["www_address"]
        # A www_cname_chain ends at CHAIN_END_NAME and a wildcard matches
        # www, and both give HOST_B, even where nginx serves no www site.
        if parent["hygiene_profile"] in WWW_SERVED_HYGIENE:
            return "ok", HOST_B
        return "no_address", None

    return resolve


def build_http_world(domains, cert_paths, now):
    """Describe every endpoint that nginx serves."""
    world = simnet_http.HttpWorld(
        resolver(domains), lambda row: site_addresses(row)[1],
        lambda row: site_addresses(row)[0],
        (HOST_A_V4, HOST_A_V6, HOST_B) + tuple(LEGACY_HOSTS.values()), now)
    for name, row in domains.items():
        if row["profile"] in UNRESOLVABLE_PROFILES:
            continue
        if not site_addresses(row)[0]:
            continue
        target = http_redirect_target(row["profile"], name)
        if target and row["redirect_shape"] == "off_host":
            target = row["off_host_target"]
        kind = CERT_KIND.get(row["profile"])
        verdict = CERT_VERDICT[kind] if kind else None
        # A trusted certificate that does not name www.NAME (drawn only for
        # trusted ones) is a name mismatch there.
        www_verdict = "name_mismatch" \
            if row["www_certificate"] == "not_covered" else verdict
        world.add_site(name, row, verdict, target, row["www_address"],
                       cert_paths.get(name), www_verdict)
    return world


# ---------------------------------------------------------------- DNS hygiene


# DNS hygiene profile -> weight in percent: a third dimension, drawn from
# another hash of the seed and the name. A domain shows one case at most.
# Cases that add records (all but ns_two_networks) need an unsigned zone,
# because simnet_dnssec.py encodes neither CNAME nor CAA records and counts
# the "*" label of a wildcard owner in the RRSIG labels field (RFC 4034,
# section 3.1.3 excludes it). The www and wildcard cases also need a name with
# no listed name below it, since a wildcard would match a listed nxdomain child
# and a www record could collide with a listed www zone. A domain whose drawn
# case does not fit gets "plain". The order is also the coverage order.
HYGIENE_WEIGHTS = WORLD_WEIGHTS["hygiene"]
assert sum(HYGIENE_WEIGHTS.values()) == 100
HYGIENE_PROFILES = list(HYGIENE_WEIGHTS)
HYGIENE_NEEDS_UNSIGNED = {"caa", "wildcard", "www_cname_chain",
                          "www_cname_dangling"}
HYGIENE_NEEDS_LEAF = {"wildcard", "www_cname_chain", "www_cname_dangling"}

# Addresses of each name server and mail host, as (IPv4 list, IPv6 list).
NS_HOST_ADDRESSES = {
    DOMAIN_NS_NAMES[0]: ([DOMAINS_NS_ADDRS[0]], []),
    DOMAIN_NS_NAMES[1]: ([DOMAINS_NS_ADDRS[1]], []),
    EXTRA_NS_NAME: ([EXTRA_NS_ADDR], [EXTRA_NS_ADDR_V6]),
}
MX_HOST_IPV6 = {
    "mx1." + INFRA_MAIL_ZONE: [],
    "mx2." + INFRA_MAIL_ZONE: [MX2_ADDR_V6],
}

# The CAA records of the "caa" case as (flags, tag, value), and the columns
# posture should parse from them, written out by hand.
CAA_RECORDS = [
    (128, "issue", "ca.simnet-dns.net; account=42"),
    (0, "issue", "LetsEncrypt.org"),
    (0, "issuewild", ";"),
    (0, "iodef", "mailto:security@simnet-dns.net"),
    (0, "contactemail", "security@simnet-dns.net"),
]
CAA_TRUTH = {
    "dns_caa_outcome": "data",
    "dns_caa_issue": ["ca.simnet-dns.net", "letsencrypt.org"],
    # ";" names no issuer: wildcard certificates are forbidden.
    "dns_caa_issuewild": [""],
    "dns_caa_iodef": ["mailto:security@simnet-dns.net"],
    "dns_caa_critical": True,
    "dns_caa_other_tags": ["contactemail"],
}
# The www chain of the "www_cname_chain" case ends at this infrastructure
# host. Dangling aliases point below UNCLAIMED_ZONE, where nothing exists.
CHAIN_END_NAME = "edge." + INFRA_DNS_ZONE
UNCLAIMED_ZONE = "unclaimed." + INFRA_DNS_ZONE


def weighted_hygiene_profile(seed, domain):
    return weighted_choice(HYGIENE_WEIGHTS,
                           hash_fraction(seed, f"hygiene:{domain}"))


def hygiene_fits(case, row, has_descendant):
    if case == "plain":
        return True
    if row["profile"] in UNRESOLVABLE_PROFILES:
        return False
    if case in HYGIENE_NEEDS_UNSIGNED and \
            row["dnssec_profile"] in DNSSEC_SIGNED:
        return False
    return not (case in HYGIENE_NEEDS_LEAF and has_descendant)


def assign_hygiene_profiles(domains, seed):
    """Set each domain's "hygiene_profile".

    In a list of 50 or more names, the first names without a listed parent,
    with an unsigned zone, where a case fits, get one case each.
    """
    with_descendant = {parent for name in domains
                       for parent in parent_names(name)}
    forced = {}
    if len(domains) >= COVERAGE_MIN_DOMAINS:
        pending = [case for case in HYGIENE_PROFILES if case != "plain"]
        for name, row in domains.items():
            if not pending:
                break
            if row["parent_domain"] or row["dnssec_profile"] != "unsigned":
                continue
            if hygiene_fits(pending[0], row, name in with_descendant):
                forced[name] = pending.pop(0)
    # Names that exist because a listed zone or delegation sits below them.
    nonterminals = {parent for name, row in domains.items()
                    if row["profile"] != "nxdomain"
                    for parent in parent_names(name)}
    for name, row in domains.items():
        case = forced.get(name) or weighted_hygiene_profile(seed, name)
        if not hygiene_fits(case, row, name in with_descendant):
            case = "plain"
        row["hygiene_profile"] = case
        row["www_is_nonterminal"] = "www." + name in nonterminals


def count_hygiene_profiles(domains):
    counts = {}
    for row in domains.values():
        case = row["hygiene_profile"]
        counts[case] = counts.get(case, 0) + 1
    return counts


def zone_ns_names(row):
    if row["hygiene_profile"] == "ns_two_networks":
        return [DOMAIN_NS_NAMES[0], EXTRA_NS_NAME]
    return list(DOMAIN_NS_NAMES)


def dangling_target(name):
    label = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"site-{label}.{UNCLAIMED_ZONE}"


def add_hygiene_records(zones, domains):
    """Add the name server glue and the records of the hygiene cases."""
    infra = zones[INFRA_DNS_ZONE]
    infra.add(EXTRA_NS_NAME, "AAAA", EXTRA_NS_ADDR_V6)
    infra.add(CHAIN_END_NAME, "A", HOST_B)
    for name, row in domains.items():
        if name not in zones:
            continue
        zone = zones[name]
        case = row["hygiene_profile"]
        if case == "caa":
            for flags, tag, value in CAA_RECORDS:
                zone.add(name, "CAA", f'{flags} {tag} "{value}"')
        elif case == "wildcard":
            zone.add("*." + name, "A", HOST_B)
        elif case == "www_cname_chain":
            zone.add("www." + name, "CNAME", f"cdn.{name}.")
            zone.add("cdn." + name, "CNAME", CHAIN_END_NAME + ".")
        elif case == "www_cname_dangling":
            zone.add("www." + name, "CNAME", dangling_target(name) + ".")
        if www_has_own_address(row):
            zone.add("www." + name, "A", row["www_address"])


def failed_name(row, bogus):
    """Return the outcome of every query for a name that cannot resolve,
    or None when the name's zone is reachable. posture reports SERVFAIL for a
    bogus zone as bogus, once its DNSSEC check has found the name bogus."""
    if bogus:
        return "bogus"
    if row["profile"] in DEAD_DELEGATION_PROFILES:
        return "servfail"
    if row["profile"] == "nxdomain":
        return "nxdomain"
    return None


def cname_truth(outcome, chain=None, dangling=False):
    """Expected CNAME columns for one start name, given the outcome of the
    CNAME query there and the aliases followed."""
    if outcome not in ("data", "no_data", "nxdomain"):
        return [outcome, None, None, None]
    return [outcome, chain, len(chain or []), dangling]


def www_cname_truth(name, domains):
    """Expected CNAME columns at www.<name>, for a name with a reachable zone."""
    www = "www." + name
    if www in domains:
        child = domains[www]
        child_bogus = child["dnssec"][0] == "bogus"
        outcome = failed_name(child, child_bogus) or "no_data"
        # Only the scanned name's DNSSEC state turns SERVFAIL into bogus, and
        # this name's zone is not bogus.
        return cname_truth("servfail" if outcome == "bogus" else outcome)
    case = domains[name]["hygiene_profile"]
    if case == "www_cname_chain":
        return cname_truth("data", [f"cdn.{name}", CHAIN_END_NAME])
    if case == "www_cname_dangling":
        return cname_truth("data", [dangling_target(name)], dangling=True)
    # A wildcard with only an A record makes www exist without a CNAME, and
    # a listed zone below www makes it an empty non-terminal.
    if case == "wildcard" or domains[name]["www_is_nonterminal"] or \
            www_has_own_address(domains[name]):
        return cname_truth("no_data")
    return cname_truth("nxdomain")


def host_counts(hosts, addresses):
    """Return (hosts, with AAAA, IPv4 /24 networks, IPv6 /48 networks)."""
    ipv4 = {address.rsplit(".", 1)[0]
            for host in hosts for address in addresses[host][0]}
    ipv6 = {ipaddress.IPv6Network(f"{address}/48", strict=False)
            for host in hosts for address in addresses[host][1]}
    with_aaaa = sum(1 for host in hosts if addresses[host][1])
    return len(hosts), with_aaaa, len(ipv4), len(ipv6)


def hygiene_truth(name, domains, bogus):
    """Expected DNS hygiene columns of a scanned name."""
    row = domains[name]
    failed = failed_name(row, bogus)
    columns = ("dns_ns_hosts", "dns_ns_hosts_with_aaaa",
               "dns_ns_ipv4_networks_24", "dns_ns_ipv6_networks_48",
               "dns_mx_hosts", "dns_mx_hosts_with_aaaa",
               "dns_caa_issue", "dns_caa_issuewild", "dns_caa_iodef",
               "dns_caa_critical", "dns_caa_other_tags")
    result = {column: None for column in columns}
    result["_hygiene_profile"] = row["hygiene_profile"]
    cname_columns = ("outcome", "chain", "chain_length", "dangling")
    if failed in ("servfail", "bogus"):
        result.update(dns_caa_outcome=failed, dns_wildcard_outcome=failed,
                      dns_wildcard=None)
        for prefix in ("dns_cname", "dns_www_cname"):
            for column, value in zip(cname_columns,
                                     cname_truth(failed)):
                result[f"{prefix}_{column}"] = value
        return result

    if failed == "nxdomain":
        ns_hosts, mx_hosts = [], []
    else:
        ns_hosts = zone_ns_names(row)
        mx_hosts = sorted({exchange for _, exchange in
                           dns_records(row["profile"], name)["mx"]
                           if exchange != "."})
    (result["dns_ns_hosts"], result["dns_ns_hosts_with_aaaa"],
     result["dns_ns_ipv4_networks_24"], result["dns_ns_ipv6_networks_48"]) = \
        host_counts(ns_hosts, NS_HOST_ADDRESSES)
    result["dns_mx_hosts"] = len(mx_hosts)
    result["dns_mx_hosts_with_aaaa"] = sum(1 for host in mx_hosts
                                           if MX_HOST_IPV6[host])
    if ns_hosts:
        # Replaces dns_truth's value, which assumes the default NS set.
        result["dns_ns"] = sorted(ns_hosts)

    case = row["hygiene_profile"]
    if case == "caa":
        result.update(CAA_TRUTH)
    else:
        result["dns_caa_outcome"] = failed or "no_data"
    wildcard = case == "wildcard"
    result["dns_wildcard_outcome"] = "data" if wildcard else "nxdomain"
    result["dns_wildcard"] = wildcard

    # Every scanned name with a zone is that zone's apex, where a CNAME
    # cannot exist (RFC 1034, section 3.6.2).
    at_name = cname_truth(failed or "no_data")
    at_www = cname_truth("nxdomain") if failed else \
        www_cname_truth(name, domains)
    for prefix, values in (("dns_cname", at_name), ("dns_www_cname", at_www)):
        for column, value in zip(cname_columns, values):
            result[f"{prefix}_{column}"] = value
    return result


# ---------------------------------------------------------------- DMARC


# DMARC profile -> weight in percent: a fourth dimension, drawn from another
# hash of the seed and the name. The record goes at _dmarc.<name>, except for
# dmarc_at_apex, which puts it at the name itself (a common mistake). The order
# is also the coverage order.
DMARC_WEIGHTS = WORLD_WEIGHTS["dmarc"]
assert sum(DMARC_WEIGHTS.values()) == 100
DMARC_PROFILES = list(DMARC_WEIGHTS)

# Each profile's records ({name} is the domain) and the columns posture should
# parse from a single record, written out by hand.
DMARC_RECORDS = {
    "dmarc_none": ["v=DMARC1; p=none; rua=mailto:dmarc@{name}"],
    "dmarc_quarantine": [
        "v=DMARC1; p=quarantine; pct=50; rua=mailto:reports@simreports.net"],
    "dmarc_reject": [
        "v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=s; "
        "rua=mailto:dmarc@simmail.net; ruf=mailto:forensic@simmail.net; fo=1"],
    "dmarc_invalid": ["v=DMARC1; p=block"],
    "dmarc_multiple": ["v=DMARC1; p=none", "v=DMARC1; p=reject"],
    "dmarc_at_apex": [],
    "dmarc_absent": [],
}
APEX_DMARC_RECORD = "v=DMARC1; p=reject"
# (valid, errors, warnings, p, sp, np, pct, adkim, aspf, rua, ruf, external
# report hosts, of which unauthorized). simreports.net authorizes every domain;
# simmail.net authorizes none.
DMARC_FACTS = {
    "dmarc_none": (True, None, None, "none", "none", "none", 100, "r", "r",
                   ["mailto:dmarc@{name}"], None, [], []),
    "dmarc_quarantine": (True, None, ["partial_percentage"], "quarantine",
                         "quarantine", "quarantine", 50, "r", "r",
                         ["mailto:reports@simreports.net"], None,
                         ["simreports.net"], []),
    "dmarc_reject": (True, None, None, "reject", "quarantine", "quarantine",
                     100, "s", "s", ["mailto:dmarc@simmail.net"],
                     ["mailto:forensic@simmail.net"], ["simmail.net"],
                     ["simmail.net"]),
    # p=block is invalid and there is no rua, so receivers ignore the record.
    "dmarc_invalid": (False, ["invalid_value"], None, None, None, None, None,
                      None, None, None, None, [], []),
}
# The DMARC tree walk (RFC 9989, section 4.10) shortens names of 8 or more
# labels to their last 7.
WALK_SHORTCUT_LABELS = 8
WALK_SHORTENED_LABELS = 7


def assign_dmarc_profiles(domains, seed):
    """Set each domain's "dmarc_profile". In a list of 50 or more names, the
    first names with a zone and no listed parent get one profile each."""
    forced = {}
    if len(domains) >= COVERAGE_MIN_DOMAINS:
        pending = list(DMARC_PROFILES)
        for name, row in domains.items():
            if not pending:
                break
            if row["parent_domain"] or row["profile"] in UNRESOLVABLE_PROFILES \
                    or row["dnssec_profile"] in DNSSEC_BOGUS_REASON:
                continue
            forced[name] = pending.pop(0)
    for name, row in domains.items():
        row["dmarc_profile"] = forced.get(name) or weighted_choice(
            DMARC_WEIGHTS, hash_fraction(seed, f"dmarc:{name}"))


def count_dmarc_profiles(domains):
    counts = {}
    for row in domains.values():
        counts[row["dmarc_profile"]] = counts.get(row["dmarc_profile"], 0) + 1
    return counts


def dmarc_records(name, row):
    return [text.format(name=name) for text in DMARC_RECORDS[row["dmarc_profile"]]]


def add_dmarc_records(zones, domains):
    zones[INFRA_REPORTS_ZONE].add("*._report._dmarc." + INFRA_REPORTS_ZONE,
                                  "TXT", txt_rdata(["v=DMARC1"]))
    for name, row in domains.items():
        if name not in zones:
            continue
        for text in dmarc_records(name, row):
            zones[name].add("_dmarc." + name, "TXT", txt_rdata([text]))
        if row["dmarc_profile"] == "dmarc_at_apex":
            zones[name].add(name, "TXT", txt_rdata([APEX_DMARC_RECORD]))


def dmarc_query(domain, domains):
    """Return None when the TXT query for _dmarc.<domain> fails, else the
    DMARC records it returns."""
    for holder in [domain] + parent_names(domain):
        if holder not in domains:
            continue
        row = domains[holder]
        if row["profile"] in DEAD_DELEGATION_PROFILES \
                or row["dnssec"][0] in ("bogus", "indeterminate"):
            return None
        if holder != domain or row["profile"] == "nxdomain":
            return []
        return dmarc_records(domain, row)
    return []


def walk_targets(name):
    labels = name.split(".")
    targets = [name]
    start = len(labels) - WALK_SHORTENED_LABELS \
        if len(labels) >= WALK_SHORTCUT_LABELS else 1
    targets += [".".join(labels[i:]) for i in range(start, len(labels))]
    return targets


def dmarc_rfc7489(name, organizational, domains):
    """Return (status, found_at, record) by RFC 7489, section 6.6.3."""
    candidates = [name] if organizational == name else [name, organizational]
    for domain in candidates:
        records = dmarc_query(domain, domains)
        if records is None:
            return "failed", None, None
        if len(records) == 1:
            return "found", domain, records[0]
        if len(records) > 1:
            return "multiple_records", None, None
    return "absent", None, None


def dmarc_tree_walk(name, domains):
    """Return (status, found_at, record) by the tree walk. No record in this
    world has a psd tag, so the record with the fewest labels above the name
    applies."""
    targets = walk_targets(name)
    records = dmarc_query(name, domains)
    if records is None:
        return "failed", None, None
    if len(records) == 1:
        return "found", name, records[0]
    applied = None
    for target in targets[1:]:
        records = dmarc_query(target, domains)
        if records is None:
            return "failed", None, None
        if len(records) == 1:
            applied = (target, records[0])
    if applied:
        return ("found",) + applied
    return "absent", None, None


def dmarc_truth(name, domains, psl, truth):
    """Expected DMARC columns. truth contains the columns written so far,
    for whether the name exists and what its TXT query returned."""
    row = domains[name]
    columns = ("dmarc_found_at", "dmarc_record", "dmarc_valid", "dmarc_errors",
               "dmarc_warnings", "dmarc_policy", "dmarc_subdomain_policy",
               "dmarc_pct", "dmarc_adkim", "dmarc_aspf",
               "dmarc_effective_policy", "dmarc_rua", "dmarc_ruf",
               "dmarc_report_external", "dmarc_report_unauthorized")
    result = {column: None for column in columns}
    result["_dmarc_profile"] = row["dmarc_profile"]
    organizational = psl.privatesuffix(name) or name
    status, found_at, record = dmarc_rfc7489(name, organizational, domains)
    walk_status, walk_found_at, walk_record = dmarc_tree_walk(name, domains)
    bogus = truth["dnssec_state"] == "bogus"
    result["dmarc_outcome"] = {
        "found": "present", "absent": "absent",
        "multiple_records": "multiple_records",
        "failed": "bogus" if bogus else "unknown"}[status]
    result["dmarc_found_by"] = [method for method, method_status in
                                (("rfc7489", status), ("tree_walk", walk_status))
                                if method_status == "found"]
    result["dmarc_tree_walk_found_at"] = walk_found_at
    result["dmarc_methods_disagree"] = (status, found_at, record) != \
        (walk_status, walk_found_at, walk_record)
    txt = truth.get("dns_txt_outcome")
    at_apex = row["dmarc_profile"] == "dmarc_at_apex" and txt in ("data", "no_data")
    result["dmarc_at_apex"] = at_apex if txt in ("data", "no_data", "nxdomain") \
        else None
    if at_apex:
        # Replaces dns_truth's TXT columns, which know the web/mail profile only.
        result["dns_txt_outcome"] = "data"
        result["dns_txt"] = sorted((truth.get("dns_txt") or []) + [APEX_DMARC_RECORD])
    if status != "found":
        return result

    owner_profile = domains[found_at]["dmarc_profile"]
    (valid, errors, warnings, p, sp, np, pct, adkim, aspf, rua, ruf,
     external, unauthorized) = DMARC_FACTS[owner_profile]
    fill = lambda uris: [uri.format(name=found_at) for uri in uris] if uris else None
    result.update(
        dmarc_found_at=found_at, dmarc_record=record, dmarc_valid=valid,
        dmarc_errors=errors, dmarc_warnings=warnings, dmarc_policy=p,
        dmarc_subdomain_policy=sp, dmarc_pct=pct, dmarc_adkim=adkim,
        dmarc_aspf=aspf, dmarc_rua=fill(rua), dmarc_ruf=fill(ruf),
        dmarc_report_external=external or None,
        dmarc_report_unauthorized=unauthorized or None)
    if p is not None:
        exists = truth.get("dns_a_outcome") != "nxdomain"
        result["dmarc_effective_policy"] = p if found_at == name else \
            (sp if exists else np)
    return result


# ---------------------------------------------------------------- configs


def nginx_config(world, extra_blocks):
    # A bucket must hold the longest name plus nginx's per-entry overhead.
    # With 8 slots per name, nginx 1.22 built the hash for 9893 names
    # without the "could not build optimal server_names_hash" warning.
    names = {host for _, host in world.endpoints}
    longest = max([len(name) for name in names] + [32])
    bucket = 128
    while bucket < longest + 32:
        bucket *= 2
    hash_max_size = 1024
    while hash_max_size < 8 * len(names):
        hash_max_size *= 2
    parts = [f"""# Generated by scripts/simnet_world.py. @RUN_DIR@ and @WORLD_DIR@ are
# replaced by scripts/simnet, and so is @HEADERS_MORE_MODULE@, the path of
# Debian's libnginx-mod-http-headers-more-filter module.
load_module @HEADERS_MORE_MODULE@;
daemon off;
master_process on;
user root;
worker_processes 2;
pid @RUN_DIR@/nginx/nginx.pid;
error_log @RUN_DIR@/logs/nginx-error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    default_type text/plain;
    server_tokens off;
    # Send each Location as the world wrote it, relative ones included.
    absolute_redirect off;
    # Paths without a route get nginx's own 404, which is no error here.
    log_not_found off;
    keepalive_timeout 10s;
    server_names_hash_max_size {hash_max_size};
    server_names_hash_bucket_size {bucket};
    client_body_temp_path @RUN_DIR@/nginx/client_body;
    proxy_temp_path @RUN_DIR@/nginx/proxy;
    fastcgi_temp_path @RUN_DIR@/nginx/fastcgi;
    uwsgi_temp_path @RUN_DIR@/nginx/uwsgi;
    scgi_temp_path @RUN_DIR@/nginx/scgi;
    log_format simnet '$remote_addr $server_addr $server_port $host '
                      '$ssl_server_name "$request" $status $body_bytes_sent '
                      '"$http_user_agent"';
    access_log @RUN_DIR@/logs/nginx-access.log simnet;
    ssl_protocols {TLS_POLICIES["tls12_minimum"]};
    ssl_ciphers "{TLS_CIPHERS}";
    ssl_certificate_key @WORLD_DIR@/certs/leaf.key;

    # Names outside the world: TLS handshakes are rejected, HTTP gets 404.
    server {{
        listen {HOST_A_V4}:443 ssl default_server;
        listen [{HOST_A_V6}]:443 ssl default_server;
        listen {HOST_B}:443 ssl default_server;
        ssl_reject_handshake on;
    }}
    server {{
        listen {HOST_A_V4}:80 default_server;
        listen [{HOST_A_V6}]:80 default_server;
        listen {HOST_HTTP_ONLY}:80 default_server;
        listen {HOST_B}:80 default_server;
        return 404 "simnet: unknown host\\n";
    }}
"""]
    parts.append(legacy_default_servers())
    parts.append(simnet_http.nginx_server_blocks(world))
    parts += extra_blocks
    parts.append("}\n")
    return "".join(parts)


def legacy_default_servers():
    """Render the default servers of the legacy hosts. They set each
    host's TLS policy, because nginx takes the accepted versions from the
    default server of the address, whichever name the SNI selects."""
    blocks = []
    for (profile, _), address in LEGACY_HOSTS.items():
        protocols = TLS_POLICIES[profile]
        blocks.append(f"""    server {{
        listen {address}:443 ssl default_server;
        listen {address}:80 default_server;
        ssl_protocols {protocols};
        ssl_reject_handshake on;
        return 404 "simnet: unknown host\\n";
    }}
""")
    return "".join(blocks)


def nsd_config(instance, addresses, zone_names):
    lines = [
        "# Generated by scripts/simnet_world.py.",
        "server:",
    ]
    lines += [f"    ip-address: {address}" for address in addresses]
    lines += [
        "    port: 53",
        "    do-ip6: no",
        '    username: ""',
        '    chroot: ""',
        '    database: ""',
        '    zonesdir: "@WORLD_DIR@/zones"',
        f'    zonelistfile: "@RUN_DIR@/nsd-{instance}/zone.list"',
        f'    xfrdfile: "@RUN_DIR@/nsd-{instance}/xfrd.state"',
        f'    xfrdir: "@RUN_DIR@/nsd-{instance}"',
        f'    pidfile: "@RUN_DIR@/nsd-{instance}/nsd.pid"',
        f'    logfile: "@RUN_DIR@/logs/nsd-{instance}.log"',
        "    verbosity: 0",
        "    server-count: 1",
        "    hide-version: yes",
        "    hide-identity: yes",
        "    reuseport: no",
        "    tcp-count: 256",
        # The default buffers (rmem_default, about 208 KiB) overflowed under a
        # full-speed scan: dropped queries cost the resolver a 5 s retry.
        "    receive-buffer-size: 4194304",
        "    send-buffer-size: 4194304",
        "remote-control:",
        "    control-enable: no",
        "",
    ]
    for name in zone_names:
        lines += [
            "zone:",
            f'    name: "{name or "."}"',
            f'    zonefile: "{instance}/{zone_file_name(name)}"',
        ]
    return "\n".join(lines) + "\n"


def zone_file_name(name):
    return (name or "root") + ".zone"


def unbound_accepts(option):
    """Return True when the installed unbound-checkconf accepts a server
    option line such as "discard-timeout: 0"."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "unbound.conf")
        with open(path, "w") as f:
            f.write(f'server:\n    {option}\n    username: ""\n'
                    f'    chroot: ""\n    directory: "{directory}"\n')
        try:
            result = subprocess.run(["unbound-checkconf", path],
                                    capture_output=True, check=False)
        except OSError:
            return False
    return result.returncode == 0


def discard_timeout_line():
    """Return the resolver's discard-timeout setting, or a comment where the
    installed Unbound has no such option and so never discards."""
    option = "discard-timeout: 0"
    if not unbound_accepts(option):
        return "    # This Unbound has no discard-timeout option.\n"
    # Debian's 1.17.1-2+deb12u4 drops the response to a query whose
    # recursion takes longer than 1.9 s by default. The first query for an
    # unresponsive zone takes longer, and a dropped SERVFAIL would reach
    # posture as a timeout.
    return ("    # Never drop a response, however long its recursion took: the\n"
            "    # first queries for an unresponsive zone take 4 s or more.\n"
            f"    {option}\n")


def unbound_config(infra_hosts):
    return f"""# Generated by scripts/simnet_world.py.
server:
    interface: {RESOLVER_ADDR}
    port: 53
    do-ip4: yes
    # The world's name servers have IPv4 addresses only.
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    access-control: ::1 allow
    do-not-query-localhost: no
    root-hints: "@WORLD_DIR@/unbound/root.hints"
    username: ""
    chroot: ""
    directory: "@RUN_DIR@/unbound"
    pidfile: "@RUN_DIR@/unbound/unbound.pid"
    use-syslog: no
    logfile: "@RUN_DIR@/logs/unbound.log"
    verbosity: 0
    num-threads: 2
    msg-cache-size: 256m
    rrset-cache-size: 512m
    # One infrastructure entry per zone and name server address: a world of
    # 10,000 names needs over 20,000, and with Unbound's default of 10000 the
    # least recently used entries were evicted during a scan. Unbound then
    # forgot which name servers never respond, and the next queries for such a
    # domain waited seconds for SERVFAIL again (docs/email-comparison.md).
    infra-cache-numhosts: {infra_hosts}
    num-queries-per-thread: 4096
    outgoing-range: 8192
    so-reuseport: yes
    # 4 MiB socket buffers (the kernel caps them at net.core.rmem_max): with the
    # default 208 KiB, bursts of a full-speed scan overflowed the listening
    # socket, and each dropped query cost the client a 5 s timeout.
    so-rcvbuf: 4m
    so-sndbuf: 4m
    # Validate DNSSEC with the world's root key only: this configuration
    # loads no other trust anchor, so the real root's key is never used.
    module-config: "validator iterator"
    trust-anchor-file: "@WORLD_DIR@/unbound/root.anchor"
    # Log one line per validation failure with its reason, at any
    # verbosity. Set 0 to silence it.
    val-log-level: 2
    # Send Extended DNS Errors (RFC 8914), such as 7 (Signature Expired).
    ede: yes
    # Bound the wait for name servers that never respond (the unresponsive
    # profile), so that Unbound returns SERVFAIL for such a zone before
    # posture's third 5 s try ends. With the default maximum of 120 s, Unbound
    # 1.17.1 (Debian 1.17.1-2+deb12u4) sent no response for the first 30 s
    # and then SERVFAIL or nothing, query by query. With 3 s and no discard,
    # the first queries got SERVFAIL after 6 to 11 s and every query sent
    # from 9 s on within 0.2 s (docs/world.md). The limit also applies to the
    # world's own servers. By an estimate from the doubling of a timeout of
    # 50 ms, one that stops responding for about 3 s makes Unbound return
    # SERVFAIL for its zone. With 1 s, a 10k-name test scan under a load
    # average of 15 got SERVFAIL for 26 ordinary domains.
    infra-cache-max-rtt: 3000
{discard_timeout_line()}# unbound-control -c THIS_FILE reads statistics and flushes the caches (reload,
# flush_infra), for scripts/bench and scripts/compare-email. A Unix socket needs
# no keys.
remote-control:
    control-enable: yes
    control-interface: "@RUN_DIR@/unbound/control.sock"
"""


def silent_unbound_config():
    """Configure the name servers of the unresponsive profile: an Unbound that
    drops every query without a response (access-control deny, unbound.conf(5)).
    Unbound 1.17.1 still accepts TCP connections and then sends nothing on
    them, so a TCP connect shows that the server is up."""
    interfaces = "\n".join(f"    interface: {address}"
                           for address in SILENT_NS_ADDRS)
    return f"""# Generated by scripts/simnet_world.py.
server:
{interfaces}
    port: 53
    do-ip4: yes
    do-ip6: no
    # Unbound allows 127.0.0.0/8 and ::1 by default, and the most specific
    # netblock decides, so these are denied by name.
    access-control: 0.0.0.0/0 deny
    access-control: 127.0.0.0/8 deny
    access-control: ::0/0 deny
    access-control: ::1 deny
    module-config: "iterator"
    username: ""
    chroot: ""
    directory: "@RUN_DIR@/unbound-silent"
    pidfile: "@RUN_DIR@/unbound-silent/unbound.pid"
    use-syslog: no
    logfile: "@RUN_DIR@/logs/unbound-silent.log"
    verbosity: 0
    num-threads: 1
    # Counts the dropped queries as unwanted.queries, which shows that they
    # arrived: unbound-control -c THIS_FILE stats_noreset
    extended-statistics: yes
remote-control:
    control-enable: yes
    control-interface: "@RUN_DIR@/unbound-silent/control.sock"
"""


def root_hints():
    return (f".  3600000 IN NS {ROOT_NS_NAME}.\n"
            f"{ROOT_NS_NAME}. 3600000 IN A {ROOT_NS_ADDR}\n")


# ---------------------------------------------------------------- main


def generate(domains_path, out, seed):
    psl = PublicSuffixList()
    header, records = read_input(domains_path)
    rows, domains = build_domains(records, psl, seed)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    certs = CertFactory(now)
    certs.write_keys(out)
    cert_paths = {}
    not_after = {}
    mismatch_pem = None
    for name, row in domains.items():
        kind = CERT_KIND.get(row["profile"])
        if kind is None:
            continue
        if kind == "name_mismatch":
            # All name_mismatch domains share one certificate.
            if mismatch_pem is None:
                mismatch_pem, mismatch_after = certs.issue(kind, name)
                write_file(out, "certs/_mismatch.pem", mismatch_pem)
            cert_paths[name] = "@WORLD_DIR@/certs/_mismatch.pem"
            not_after[name] = mismatch_after
            continue
        www = ["www." + name] if row["www_address"] \
            and row["www_certificate"] == "covered" else []
        pem, not_after[name] = certs.issue(kind, name, www)
        write_file(out, f"certs/{name}.pem", pem)
        cert_paths[name] = f"@WORLD_DIR@/certs/{name}.pem"
    badssl_records, badssl_blocks = simnet_badssl.generate(
        out, now, write_file, os.path.join(out, "ca", "simnet-ca.pem"))

    zones, root_ksk = build_zones(domains, seed, now,
                                  {simnet_badssl.ZONE: badssl_records})
    for name, row in domains.items():
        row["dnssec"] = dnssec_validation(name, row["profile"], zones)
    serial = now.strftime("%Y%m%d01")
    by_server = {"root": [], "tld": [], "domains": []}
    # ldns-signzone runs once per zone, so those zones are rendered side by
    # side. The in-process signer holds the GIL, so the others stay serial.
    ldns_zones = [name for name, zone in zones.items()
                  if isinstance(zone.signer, simnet_dnssec.LdnsSigner)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        rendered = dict(zip(ldns_zones, pool.map(
            lambda name: zones[name].render(serial), ldns_zones)))
    for name, zone in zones.items():
        text = rendered[name] if name in rendered else zone.render(serial)
        write_file(out, f"zones/{zone.server}/{zone_file_name(name)}", text)
        by_server[zone.server].append(name)

    write_file(out, "conf/nsd-root.conf.in",
               nsd_config("root", [ROOT_NS_ADDR], by_server["root"]))
    write_file(out, "conf/nsd-tld.conf.in",
               nsd_config("tld", [TLD_NS_ADDR], by_server["tld"]))
    write_file(out, "conf/nsd-domains.conf.in",
               nsd_config("domains", DOMAINS_NS_ADDRS + (EXTRA_NS_ADDR,),
                          by_server["domains"]))
    write_file(out, "conf/nsd-lame.conf.in",
               nsd_config("lame", [LAME_NS_ADDR], []))
    # A zone has at most three name server addresses, and each unresponsive
    # or lame name one or two entries of its own, so 4 per zone and name is
    # room to spare.
    write_file(out, "conf/unbound.conf.in",
               unbound_config(max(10000, 4 * (len(zones) + len(domains)))))
    write_file(out, "conf/unbound-silent.conf.in", silent_unbound_config())
    cert_paths.update(simnet_email.issue_certs(certs, domains, out, write_file))
    http_world = build_http_world(domains, cert_paths, now)
    write_file(out, "conf/nginx.conf.in", simnet_email.add_nginx_servers(
        nginx_config(http_world, badssl_blocks), domains, cert_paths))
    write_file(out, "unbound/root.hints", root_hints())
    write_file(out, "unbound/root.anchor",
               f". IN DS {root_ksk.ds_text('')}\n")
    write_file(out, "resolv.conf", f"nameserver {RESOLVER_ADDR}\n")

    # simnet waits until the resolver resolves this name, which needs the
    # root, TLD and domains servers to be up. A secure name also shows that
    # the resolver validates with the world's trust anchor.
    resolvable = [name for name, row in domains.items()
                  if dns_records(row["profile"], name)["a"]
                  and row["profile"] not in UNRESOLVABLE_PROFILES
                  and row["dnssec"][0] != "bogus"]
    secure = [name for name in resolvable
              if domains[name]["dnssec"][0] == "secure"]
    probe = (secure + resolvable + ["mx1." + INFRA_MAIL_ZONE])[0]
    probe_secure = probe in secure

    with open(os.path.join(out, "truth.jsonl"), "w") as f:
        for truth in truth_rows(rows, domains, psl, not_after, http_world):
            f.write(json.dumps(truth, ensure_ascii=False) + "\n")

    counts = {}
    for row in rows:
        key = row.get("profile") or row["status"]
        counts[key] = counts.get(key, 0) + 1
    dnssec_counts = {}
    state_counts = {}
    for row in domains.values():
        profile = row["dnssec_profile"]
        dnssec_counts[profile] = dnssec_counts.get(profile, 0) + 1
        state = row["dnssec"][0]
        state_counts[state] = state_counts.get(state, 0) + 1
    meta = {
        "generated_at": rfc3339(now),
        "seed": seed,
        "domains_file": os.path.abspath(domains_path),
        "header": header,
        "lines": len(rows),
        "domains": len(domains),
        "zones": {server: len(names) for server, names in by_server.items()},
        "profiles": counts,
        "dnssec_profiles": dnssec_counts,
        "dnssec_states": state_counts,
        "hygiene_profiles": count_hygiene_profiles(domains),
        "dmarc_profiles": count_dmarc_profiles(domains),
        "http_profiles": count_http_profiles(domains),
        "email_profiles": simnet_email.count_profiles(domains),
        "signed_zones": sum(1 for zone in zones.values() if zone.signer),
        "probe_name": probe,
        "probe_secure": probe_secure,
        "probe_zone_server": "domains",
    }
    write_file(out, "world.json", json.dumps(meta, indent=2) + "\n")
    return meta


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", required=True,
                        help="domain list: Tranco CSV, CSV with a domain "
                             "column, or one name per line")
    parser.add_argument("--out", required=True,
                        help="output directory (created; must be empty)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the profile assignment (default 0)")
    args = parser.parse_args()
    if os.path.exists(args.out) and os.listdir(args.out):
        parser.error(f"output directory {args.out} is not empty")
    os.makedirs(args.out, exist_ok=True)
    try:
        meta = generate(args.domains, args.out, args.seed)
    except WorldError as error:
        print(f"simnet_world: {error}", file=sys.stderr)
        return 1
    print(json.dumps(meta["profiles"], sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sign the simulated internet's zones with DNSSEC (RFC 4033-4035).

scripts/simnet_world.py imports this module. It signs in-process with the
`cryptography` package: ECDSA P-256 with SHA-256 (algorithm 13, RFC 6605),
NSEC (not NSEC3) for denial of existence, and DS digests with SHA-256 (digest
type 2). Only the record types that the world uses can be encoded.

ldns-signzone signs one zone per process and rejects a key whose owner name
differs from the zone, so signing every zone of a 10k-domain world with it
would take thousands of processes and key files. LdnsSigner uses it for the
zones of every insecure, bogus, NSEC3 and RSASHA1 case, so that those cases
come from a real signing tool. The in-process signer keeps the root, the TLDs
and the plain secure zones, and Unbound validates the zones of both.
"""

import base64
import hashlib
import ipaddress
import os
import re
import shutil
import struct
import subprocess
import tempfile

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import \
    decode_dss_signature

ALGORITHM = 13  # ECDSAP256SHA256
DIGEST_SHA256 = 2
PROTOCOL = 3
FLAGS_ZSK = 256
FLAGS_KSK = 257  # zone key + secure entry point
CLASS_IN = 1
TYPE_CODES = {
    "A": 1, "NS": 2, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "DS": 43,
    "RRSIG": 46, "NSEC": 47, "DNSKEY": 48,
}
QUOTED_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
ESCAPED_CHARACTER = re.compile(r"\\(.)")


def name_wire(name):
    """Encode a domain name ("" or "." is the root) in canonical wire form."""
    labels = [label for label in name.lower().strip(".").split(".") if label]
    return b"".join(bytes([len(label)]) + label.encode("ascii")
                    for label in labels) + b"\x00"


def label_count(name):
    return len([label for label in name.strip(".").split(".") if label])


def canonical_key(name):
    """Sort key of a name in canonical DNS order (RFC 4034, section 6.1)."""
    labels = [label.encode("ascii")
              for label in name.lower().strip(".").split(".") if label]
    return tuple(reversed(labels))


def absolute(name):
    name = name.strip(".")
    return name + "." if name else "."


def rdata_wire(rtype, text):
    """Convert rdata from the presentation format that the world writes to
    wire form.

    Supports A, AAAA, NS, MX, TXT, SOA and DS. Names must be absolute.
    """
    if rtype == "A":
        return ipaddress.IPv4Address(text).packed
    if rtype == "AAAA":
        return ipaddress.IPv6Address(text).packed
    if rtype == "NS":
        return name_wire(text)
    if rtype == "MX":
        preference, exchange = text.split()
        return struct.pack("!H", int(preference)) + name_wire(exchange)
    if rtype == "TXT":
        wire = b""
        for quoted in QUOTED_STRING.findall(text):
            value = ESCAPED_CHARACTER.sub(r"\1", quoted).encode()
            wire += bytes([len(value)]) + value
        return wire
    if rtype == "SOA":
        fields = text.split()
        return name_wire(fields[0]) + name_wire(fields[1]) + struct.pack(
            "!IIIII", *(int(value) for value in fields[2:7]))
    if rtype == "DS":
        tag, algorithm, digest_type, digest = text.split()
        return struct.pack("!HBB", int(tag), int(algorithm),
                           int(digest_type)) + bytes.fromhex(digest)
    raise ValueError(f"cannot encode {rtype} rdata for signing: {text}")


def key_tag(dnskey_rdata):
    """Compute the key tag of a DNSKEY (RFC 4034, appendix B)."""
    total = 0
    for index, byte in enumerate(dnskey_rdata):
        total += byte << 8 if index % 2 == 0 else byte
    total += (total >> 16) & 0xFFFF
    return total & 0xFFFF


def type_bitmap(types):
    """Encode an NSEC type bitmap for type codes below 256 (window 0)."""
    codes = sorted(TYPE_CODES[rtype] for rtype in types)
    bitmap = bytearray(codes[-1] // 8 + 1)
    for code in codes:
        bitmap[code // 8] |= 0x80 >> (code % 8)
    return bytes([0, len(bitmap)]) + bytes(bitmap)


def dns_time(moment):
    return moment.strftime("%Y%m%d%H%M%S")


class DnssecKey:
    """An ECDSA P-256 DNSKEY with its private key."""

    def __init__(self, flags):
        self.flags = flags
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint)
        # The DNSKEY public key is X || Y without the 0x04 prefix (RFC 6605).
        self.public_key = point[1:]
        self.rdata = struct.pack("!HBB", flags, PROTOCOL, ALGORITHM) + \
            self.public_key
        self.tag = key_tag(self.rdata)

    def dnskey_text(self):
        encoded = base64.b64encode(self.public_key).decode()
        return f"{self.flags} {PROTOCOL} {ALGORITHM} {encoded}"

    def ds_text(self, owner):
        """Return the rdata of the DS record for this key at owner."""
        digest = hashlib.sha256(name_wire(owner) + self.rdata).hexdigest()
        return f"{self.tag} {ALGORITHM} {DIGEST_SHA256} {digest.upper()}"

    def sign(self, data):
        der = self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class ZoneSigner:
    """Keys and signature validity period of one signed zone.

    Each signed zone gets its own key-signing key, which signs the DNSKEY
    RRset, and zone-signing key, which signs every other RRset.
    """

    def __init__(self, inception, expiration):
        self.ksk = DnssecKey(FLAGS_KSK)
        self.zsk = DnssecKey(FLAGS_ZSK)
        self.inception = inception
        self.expiration = expiration
        self.validity_wire = struct.pack("!II", int(expiration.timestamp()),
                                         int(inception.timestamp()))
        self.validity_text = f"{dns_time(expiration)} {dns_time(inception)}"

    def rrsig(self, key, zone_name, owner, rtype, ttl, rdatas):
        """Return the RRSIG presentation line over one RRset.

        rdatas are the records' rdata in wire form.
        """
        signer = absolute(zone_name)
        labels = label_count(owner)
        header = struct.pack("!HBBI", TYPE_CODES[rtype], ALGORITHM, labels,
                             ttl) + self.validity_wire + \
            struct.pack("!H", key.tag) + name_wire(signer)
        prefix = name_wire(owner) + struct.pack("!HHI", TYPE_CODES[rtype],
                                                CLASS_IN, ttl)
        data = header + b"".join(
            prefix + struct.pack("!H", len(rdata)) + rdata
            for rdata in sorted(rdatas))
        signature = base64.b64encode(key.sign(data)).decode()
        return (f"{absolute(owner)} {ttl} IN RRSIG {rtype} {ALGORITHM} "
                f"{labels} {ttl} {self.validity_text} {key.tag} {signer} "
                f"{signature}")

    def sign_records(self, zone_name, records, ttl, nsec_ttl):
        """Return the DNSKEY, NSEC and RRSIG lines that sign a zone.

        records are (owner, type, rdata text) tuples with owner names without
        a trailing dot, "" for the root. Names below a delegation (glue) are
        neither signed nor in the NSEC chain. At a delegation only DS and
        NSEC are signed, as RFC 4035, section 2.2 requires.
        """
        rrsets = {}
        for owner, rtype, rdata in records:
            rrsets.setdefault((owner, rtype), []).append(rdata)
        rrsets[(zone_name, "DNSKEY")] = [self.ksk, self.zsk]

        cuts = {owner for owner, rtype in rrsets
                if rtype == "NS" and owner != zone_name}

        def occluded(owner):
            labels = owner.split(".")
            return any(".".join(labels[i:]) in cuts
                       for i in range(1, len(labels)))

        types_at = {}
        for owner, rtype in rrsets:
            if not occluded(owner):
                types_at.setdefault(owner, set()).add(rtype)

        lines = [f"{absolute(zone_name)} {ttl} IN DNSKEY {key.dnskey_text()}"
                 for key in (self.ksk, self.zsk)]
        for (owner, rtype), rdatas in rrsets.items():
            if occluded(owner):
                continue
            if owner in cuts and rtype != "DS":
                continue
            if rtype == "DNSKEY":
                lines.append(self.rrsig(self.ksk, zone_name, owner, rtype,
                                        ttl, [key.rdata for key in rdatas]))
                continue
            wires = [rdata_wire(rtype, rdata) for rdata in rdatas]
            lines.append(self.rrsig(self.zsk, zone_name, owner, rtype, ttl,
                                    wires))

        owners = sorted(types_at, key=canonical_key)
        for index, owner in enumerate(owners):
            following = owners[(index + 1) % len(owners)]
            # RRSIG is present at every owner, because its NSEC is signed,
            # even at a delegation whose NS RRset is not.
            types = types_at[owner] | {"RRSIG", "NSEC"}
            names = " ".join(sorted(types, key=TYPE_CODES.get))
            lines.append(f"{absolute(owner)} {nsec_ttl} IN NSEC "
                         f"{absolute(following)} {names}")
            rdata = name_wire(following) + type_bitmap(types)
            lines.append(self.rrsig(self.zsk, zone_name, owner, "NSEC",
                                    nsec_ttl, [rdata]))
        return lines


class PublishedKey:
    """A DNSKEY read from presentation form, enough to write DS records."""

    def __init__(self, dnskey_text):
        flags, protocol, algorithm, *encoded = dnskey_text.split()
        self.algorithm = int(algorithm)
        self.rdata = struct.pack("!HBB", int(flags), int(protocol),
                                 self.algorithm) + \
            base64.b64decode("".join(encoded))
        self.tag = key_tag(self.rdata)

    def ds_text(self, owner, digest_type=DIGEST_SHA256):
        """Return the rdata of a DS record for this key at owner: SHA-1
        (digest type 1) or SHA-256 (2), RFC 4034 section 5.1.4."""
        function = {1: hashlib.sha1, DIGEST_SHA256: hashlib.sha256}[digest_type]
        digest = function(name_wire(owner) + self.rdata).hexdigest()
        return f"{self.tag} {self.algorithm} {digest_type} {digest.upper()}"


# Directory for ldns-signzone's key and zone files. A world of 100,000 names
# has several thousand ldns-signed zones, and creating and deleting their
# files on an ext4 disk of a 2-core VM took about 5 ms per zone, against
# under 1 ms in a tmpfs.
LDNS_SCRATCH_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


class LdnsSigner:
    """Signs a whole zone file with ldns-keygen and ldns-signzone.

    One key-signing key signs every RRset. algorithm is an ldns-keygen
    algorithm name; nsec3 is None for NSEC, or (iterations, salt in hex) for
    NSEC3 (RFC 5155).
    """

    def __init__(self, zone_name, inception, expiration,
                 algorithm="ECDSAP256SHA256", bits=None, nsec3=None):
        self.zone_name = zone_name
        self.inception = inception
        self.expiration = expiration
        self.nsec3 = nsec3
        self.workdir = tempfile.mkdtemp(prefix="simnet-ldns-",
                                        dir=LDNS_SCRATCH_DIR)
        command = ["ldns-keygen", "-a", algorithm, "-k"]
        if bits:
            command += ["-b", str(bits)]
        base = subprocess.run(command + [absolute(zone_name)], cwd=self.workdir,
                              check=True, capture_output=True,
                              text=True).stdout.strip()
        self.key_base = os.path.join(self.workdir, base)
        with open(self.key_base + ".key") as f:
            record = f.read().split(";")[0].split()
        self.ksk = PublishedKey(" ".join(record[record.index("DNSKEY") + 1:]))

    def sign_zone(self, text):
        """Return the signed form of the zone file text."""
        unsigned = os.path.join(self.workdir, "zone")
        signed = unsigned + ".signed"
        with open(unsigned, "w") as f:
            f.write(text)
        command = ["ldns-signzone", "-o", absolute(self.zone_name),
                   "-i", dns_time(self.inception),
                   "-e", dns_time(self.expiration), "-f", signed]
        if self.nsec3:
            iterations, salt = self.nsec3
            command += ["-n", "-t", str(iterations), "-s", salt]
        subprocess.run(command + [unsigned, self.key_base], check=True,
                       capture_output=True)
        with open(signed) as f:
            text = f.read()
        shutil.rmtree(self.workdir)
        return text

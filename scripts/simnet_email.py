"""Email cases of the simulated internet: DKIM keys, MTA-STS, TLS-RPT and BIMI.

scripts/simnet_world.py calls this module at five points: it assigns each
domain an email profile (assign_profiles), adds the TXT and address records
(add_records), issues the mta-sts host certificates (issue_certs), adds their
nginx server blocks (add_nginx_servers) and adds the expected columns to each
truth row (truth). The profile weights are the [email] dimension of
datasets/world.toml.
"""

import base64
import hashlib
import os
import tomllib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

WEIGHTS_PATH = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "datasets", "world.toml")
with open(WEIGHTS_PATH, "rb") as _file:
    WEIGHTS = {name: entry["weight"] for name, entry in
               tomllib.load(_file)["email"]["profiles"].items()}
if sum(WEIGHTS.values()) != 100:
    raise SystemExit("simnet_email: [email] weights in world.toml do not sum to 100")

# posture sends one TXT query per selector of its built-in dictionary when
# _domainkey exists, so the expected query count needs the dictionary's size.
with open(os.path.join(os.path.dirname(WEIGHTS_PATH), "dkim-selectors.txt")) as _file:
    DICTIONARY_SIZE = len({line.split("#")[0].strip().lower() for line in _file}
                          - {""})
# A selector outside the dictionary: the dkim_ent_only case.
HIDDEN_SELECTOR = "mta2024q3x"
MTA_STS_ADDRESS = "127.10.0.1"
MTA_STS_ID = "20260101T000000"
MX_PATTERNS_COVERING = ["mx1.simmail.net", "mx2.simmail.net"]
MX_PATTERNS_OTHER = ["mail.other-provider.example"]
# The profiles that publish an _mta-sts record, with the policy each serves:
# (mode, max_age, patterns, certificate kind), or None for no mta-sts host.
MTA_STS_POLICIES = {
    "mtasts_enforce": ("enforce", 604800, MX_PATTERNS_COVERING, "trusted"),
    "mtasts_testing": ("testing", 86400, ["*.simmail.net"], "trusted"),
    "mtasts_none": ("none", 86400, ["*.simmail.net"], "trusted"),
    "mtasts_uncovered": ("enforce", 604800, MX_PATTERNS_OTHER, "trusted"),
    "mtasts_bad_cert": ("enforce", 604800, MX_PATTERNS_COVERING, "self_signed"),
    "mtasts_no_policy": None,
}
COVERAGE_MIN_DOMAINS = 50


def hash_fraction(seed, key):
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10000


def weighted_choice(point):
    cumulative = 0
    for profile, weight in WEIGHTS.items():
        cumulative += weight * 100
        if point < cumulative:
            return profile
    raise AssertionError("weights do not cover 0..9999")


def eligible(row):
    """Return True when the domain may get a profile other than email_plain:
    it needs its own reachable zone and ordinary MX hosts, so that MX coverage
    has something to cover."""
    return (not row.get("parent_domain")
            and row["profile"] not in ("nxdomain", "lame", "unresponsive", "null_mx",
                                       "no_mail")
            and "bogus" not in row["dnssec_profile"]
            and row.get("hygiene_profile") != "wildcard")


def assign_profiles(domains, seed):
    """Set each domain's "email_profile". In a list of 50 or more names, the
    first eligible names get one profile each, so every case appears."""
    forced = {}
    if len(domains) >= COVERAGE_MIN_DOMAINS:
        pending = [name for name in WEIGHTS if name != "email_plain"]
        for name, row in domains.items():
            if not pending:
                break
            if eligible(row) and not (pending[0] == "dkim_wildcard" and
                                      row["dnssec_profile"] == "dnssec_secure"):
                forced[name] = pending.pop(0)
    for name, row in domains.items():
        profile = forced.get(name) or weighted_choice(
            hash_fraction(seed, f"email:{name}"))
        # The generator's own signer, used for plain secure zones, cannot sign a
        # wildcard owner, so the DKIM wildcard goes only to zones it does not sign.
        if profile == "dkim_wildcard" and row["dnssec_profile"] == "dnssec_secure":
            profile = "email_plain"
        row["email_profile"] = profile if eligible(row) else "email_plain"


def count_profiles(domains):
    counts = {}
    for row in domains.values():
        counts[row["email_profile"]] = counts.get(row["email_profile"], 0) + 1
    return counts


class Keys:
    """One RSA key of each size for the whole world: the truth needs only the
    size, and generating a key per domain would slow generation."""

    def __init__(self):
        self.rsa2048 = self.record(rsa.generate_private_key(65537, 2048))
        self.rsa1024 = self.record(rsa.generate_private_key(65537, 1024))

    @staticmethod
    def record(key):
        der = key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()


KEYS = None


def dkim_records(profile):
    """Return (owner label under _domainkey, record text) pairs."""
    global KEYS
    if KEYS is None:
        KEYS = Keys()
    strong = f"v=DKIM1; k=rsa; p={KEYS.rsa2048}"
    return {
        "dkim_keys": [("google", strong), ("selector1", strong)],
        "dkim_ent_only": [(HIDDEN_SELECTOR, strong)],
        "dkim_wildcard": [("*", strong)],
        "dkim_revoked": [("selector1", "v=DKIM1; p=")],
        "dkim_testing": [("k1", f"v=DKIM1; k=rsa; t=y; p={KEYS.rsa2048}")],
        "dkim_rsa1024": [("s1", f"v=DKIM1; k=rsa; p={KEYS.rsa1024}")],
    }.get(profile, [])


def tlsrpt_record(name, profile):
    if profile in ("dkim_keys", "mtasts_enforce"):
        return f"v=TLSRPTv1; rua=mailto:tlsrpt@{name}"
    return None


def bimi_record(name, profile):
    if profile == "bimi":
        return f"v=BIMI1; l=https://{name}/logo.svg; a=https://{name}/vmc.pem"
    if profile == "bimi_declined":
        return "v=BIMI1; l=; a=;"
    return None


def policy_text(profile):
    mode, max_age, patterns, _ = MTA_STS_POLICIES[profile]
    lines = ["version: STSv1", f"mode: {mode}"]
    lines += [f"mx: {pattern}" for pattern in patterns]
    lines.append(f"max_age: {max_age}")
    return "\n".join(lines) + "\n"


def split_txt(value):
    return [value[i:i + 255] for i in range(0, len(value), 255)]


def txt_rdata(value):
    return " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
                    for s in split_txt(value))


def add_records(zones, domains):
    for name, row in domains.items():
        if name not in zones:
            continue
        zone = zones[name]
        profile = row["email_profile"]
        for selector, text in dkim_records(profile):
            zone.add(f"{selector}._domainkey.{name}", "TXT", txt_rdata(text))
        for owner, text in ((f"_smtp._tls.{name}", tlsrpt_record(name, profile)),
                            (f"default._bimi.{name}", bimi_record(name, profile))):
            if text:
                zone.add(owner, "TXT", txt_rdata(text))
        if profile in MTA_STS_POLICIES:
            zone.add(f"_mta-sts.{name}", "TXT",
                     txt_rdata(f"v=STSv1; id={MTA_STS_ID}"))
            if MTA_STS_POLICIES[profile]:
                zone.add(f"mta-sts.{name}", "A", MTA_STS_ADDRESS)


def issue_certs(certs, domains, out, write_file):
    """Issue the certificate of every mta-sts host; returns host -> nginx path."""
    paths = {}
    for name, row in domains.items():
        policy = MTA_STS_POLICIES.get(row["email_profile"])
        if not policy:
            continue
        host = f"mta-sts.{name}"
        pem, _ = certs.issue(policy[3], host)
        write_file(out, f"certs/{host}.pem", pem)
        paths[host] = f"@WORLD_DIR@/certs/{host}.pem"
    return paths


def add_nginx_servers(config, domains, cert_paths):
    """Insert a server block per mta-sts host before the http block closes."""
    blocks = []
    for name, row in domains.items():
        profile = row["email_profile"]
        if not MTA_STS_POLICIES.get(profile):
            continue
        host = f"mta-sts.{name}"
        body = policy_text(profile).replace("\n", "\\n")
        blocks.append(
            "    server {\n"
            f"        listen {MTA_STS_ADDRESS}:443 ssl;\n"
            f"        server_name {host};\n"
            f"        ssl_certificate {cert_paths[host]};\n"
            f'        location = /.well-known/mta-sts.txt {{ return 200 "{body}"; }}\n'
            "        location / { return 404; }\n"
            "    }\n")
    assert config.endswith("}\n")
    return config[:-2] + "".join(blocks) + "}\n"


def key_truth(selector, profile):
    bits = {"dkim_rsa1024": 1024, "dkim_revoked": None}.get(profile, 2048)
    warnings = {"dkim_rsa1024": ["short_key"], "dkim_revoked": ["revoked_key"],
                "dkim_testing": ["testing_mode"]}.get(profile, [])
    return {"selector": selector, "key_type": "rsa", "key_bits": bits,
            "valid": True, "testing": profile == "dkim_testing",
            "revoked": profile == "dkim_revoked", "email_allowed": True,
            "hash_algorithms": [], "errors": [], "warnings": warnings}


def dkim_truth(profile, truth):
    wildcard = truth.get("dns_wildcard") is True
    if profile == "dkim_wildcard":
        return {"dkim_evidence": "wildcard", "dkim_domainkey_outcome": "no_data",
                "dkim_wildcard": True, "dkim_selectors": None, "dkim_keys": None,
                "dkim_queries": 2 + DICTIONARY_SIZE}
    records = [(selector, text) for selector, text in dkim_records(profile)
               if selector != HIDDEN_SELECTOR]
    if dkim_records(profile):
        return {"dkim_evidence": "keys_found" if records else "ent_only",
                "dkim_domainkey_outcome": "no_data", "dkim_wildcard": False,
                "dkim_selectors": [selector for selector, _ in records] or None,
                "dkim_keys": [key_truth(selector, profile)
                              for selector, _ in records] or None,
                "dkim_queries": 2 + DICTIONARY_SIZE}
    if wildcard:
        # The name's own wildcard also matches names below _domainkey, and
        # it has an address record and no TXT.
        return {"dkim_evidence": "wildcard", "dkim_domainkey_outcome": "no_data",
                "dkim_wildcard": True, "dkim_selectors": None, "dkim_keys": None,
                "dkim_queries": 2 + DICTIONARY_SIZE}
    return {"dkim_evidence": "none", "dkim_domainkey_outcome": "nxdomain",
            "dkim_wildcard": None, "dkim_selectors": None, "dkim_keys": None,
            "dkim_queries": 1}


def mtasts_truth(profile, mx_hosts):
    empty = {"mtasts_record": None, "mtasts_record_valid": None, "mtasts_id": None,
             "mtasts_policy_reason": None, "mtasts_policy_valid": None,
             "mtasts_policy_errors": None, "mtasts_mode": None,
             "mtasts_max_age": None, "mtasts_mx": None, "mtasts_mx_covered": None,
             "mtasts_mx_uncovered": None}
    if profile not in MTA_STS_POLICIES:
        return {**empty, "mtasts_record_outcome": "absent",
                "mtasts_policy_outcome": "not_fetched"}
    result = {**empty, "mtasts_record_outcome": "present",
              "mtasts_record": f"v=STSv1; id={MTA_STS_ID}",
              "mtasts_record_valid": True, "mtasts_id": MTA_STS_ID}
    policy = MTA_STS_POLICIES[profile]
    if policy is None:
        return {**result, "mtasts_policy_outcome": "absent",
                "mtasts_policy_reason": "no_address"}
    mode, max_age, patterns, cert = policy
    if cert != "trusted":
        return {**result, "mtasts_policy_outcome": "unknown",
                "mtasts_policy_reason": f"certificate_{cert}"}
    covered = patterns != MX_PATTERNS_OTHER
    return {**result, "mtasts_policy_outcome": "present",
            "mtasts_policy_valid": True, "mtasts_mode": mode,
            "mtasts_max_age": max_age, "mtasts_mx": patterns,
            "mtasts_mx_covered": covered,
            "mtasts_mx_uncovered": None if covered else mx_hosts}


def record_truth(prefix, text, parsed):
    columns = {f"{prefix}_outcome": "present" if text else "absent",
               f"{prefix}_record": text}
    for column, value in parsed.items():
        columns[f"{prefix}_{column}"] = value if text else None
    return columns


def truth(name, row, truth_so_far):
    """Expected email columns of one domain, given the truth row so far (its
    DNS, hygiene, SPF and DMARC columns)."""
    profile = row["email_profile"]
    mx_outcome = truth_so_far.get("dns_mx_outcome")
    if mx_outcome not in ("data", "no_data", "nxdomain"):
        # Every query of the name fails (lame or unresponsive delegation, or
        # bogus DNSSEC).
        return {"dkim_evidence": "unknown", "mtasts_record_outcome": "unknown",
                "mtasts_policy_outcome": "not_fetched", "tlsrpt_outcome": "unknown",
                "bimi_outcome": "unknown", "email_null_mx": None,
                "email_non_sending": None}
    result = {}
    if mx_outcome == "nxdomain":
        result.update(dkim_evidence="none", dkim_domainkey_outcome="nxdomain",
                      dkim_wildcard=None, dkim_selectors=None, dkim_keys=None,
                      dkim_queries=1)
    else:
        result.update(dkim_truth(profile, truth_so_far))
    mx_hosts = [mx["exchange"] for mx in truth_so_far.get("dns_mx") or []]
    result.update(mtasts_truth(profile, mx_hosts))
    tlsrpt = tlsrpt_record(name, profile)
    result.update(record_truth("tlsrpt", tlsrpt, {
        "valid": True, "rua": [f"mailto:tlsrpt@{name}"], "errors": None}))
    bimi = bimi_record(name, profile)
    declined = profile == "bimi_declined"
    result.update(record_truth("bimi", bimi, {
        "valid": True,
        "location": None if declined else f"https://{name}/logo.svg",
        "evidence": None if declined else f"https://{name}/vmc.pem",
        "declined": declined, "errors": None,
        "warnings": ["declined"] if declined else None}))
    null_mx = truth_so_far.get("dns_mx") == [{"preference": 0, "exchange": "."}]
    rejects_all = (truth_so_far.get("spf_records") == ["v=spf1 -all"]
                   and truth_so_far.get("dmarc_outcome") == "present"
                   and truth_so_far.get("dmarc_policy") == "reject")
    result.update(email_null_mx=null_mx, email_non_sending=null_mx or rejects_all)
    return result

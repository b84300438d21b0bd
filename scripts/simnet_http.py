"""HTTP behaviour of the simulated internet's web servers and its ground truth.

scripts/simnet_world.py imports this module. Every host that nginx serves is
described here as data: per scheme, a table of paths and the exact response
nginx returns (status, headers, Location, body). The same tables are rendered
into nginx server blocks and walked, hop by hop, to compute the expected HTTP
columns, so the truth follows from what the servers send and not from
posture's code. docs/world.md lists the choices made where the column
specification left room.
"""

import dataclasses
import datetime
import functools
import urllib.parse

# Dimensions of the HTTP cases, each drawn per domain from datasets/world.toml.
HTTP_DIMENSIONS = ("hsts", "server_disclosure", "cookies", "redirect_shape",
                   "security_headers", "security_txt")

# Strict-Transport-Security values sent by each hsts profile, on every HTTPS
# response of the site (on every plain-HTTP response for http_only).
HSTS_VALUES = {
    "absent": [],
    "short_max_age": ["max-age=86400"],
    "one_year": ["max-age=31536000; includeSubDomains"],
    "preload": ["max-age=63072000; includeSubDomains; preload"],
    # RFC 6797, section 6.1, allows each directive at most once.
    "invalid": ["max-age=31536000; includeSubDomains; includeSubDomains"],
    "duplicate_headers": ["max-age=31536000", "max-age=0"],
    "http_only": [],
}
HSTS_OVER_HTTP = {"http_only": "max-age=31536000"}
# Columns of the first Strict-Transport-Security value, written out by hand:
# (valid, max_age, includeSubDomains, preload).
HSTS_FACTS = {
    "max-age=86400": (True, 86400, False, False),
    "max-age=31536000; includeSubDomains": (True, 31536000, True, False),
    "max-age=63072000; includeSubDomains; preload": (True, 63072000, True,
                                                     True),
    "max-age=31536000; includeSubDomains; includeSubDomains": (
        False, None, None, None),
    "max-age=31536000": (True, 31536000, False, False),
}
PRELOAD_MIN_MAX_AGE = 31536000

# Disclosure headers of each server_disclosure profile, sent on every response
# of the site. Without a Server entry, nginx's own Server header is removed.
DISCLOSURE_HEADERS = {
    "no_server_header": [],
    "nginx": [("Server", "nginx")],
    "nginx_version": [("Server", "nginx/1.30.0")],
    "apache_eol": [("Server", "Apache/2.2.15 (CentOS)")],
    "iis_aspnet": [("Server", "Microsoft-IIS/7.5"),
                   ("X-AspNet-Version", "4.0.30319"),
                   ("X-Powered-By", "ASP.NET")],
    "php_powered_by": [("Server", "nginx"), ("X-Powered-By", "PHP/5.6.40")],
    "cdn_cloudflare": [("Server", "cloudflare")],
}
# Disclosed products of each profile, written out by hand: (products in the
# order Server, X-Powered-By, X-AspNet-Version, CDN named by a banner).
DISCLOSURE_FACTS = {
    "no_server_header": ([], None),
    "nginx": (["nginx"], None),
    "nginx_version": (["nginx/1.30.0"], None),
    "apache_eol": (["Apache/2.2.15"], None),
    "iis_aspnet": (["Microsoft-IIS/7.5", "ASP.NET", "ASP.NET/4.0.30319"],
                   None),
    "php_powered_by": (["nginx", "PHP/5.6.40"], None),
    "cdn_cloudflare": ([], "cloudflare"),
}
# End-of-life state of every versioned product above, from the vendors'
# support pages: Apache httpd 2.2 ended 2017-07-11, IIS 7.5 (Windows Server
# 2008 R2) 2020-01-14 and PHP 5.6 2018-12-31. nginx 1.30 and runtime 4.0 of the
# .NET Framework (every 4.x release) had no announced end in 2026.
PRODUCT_EOL = {
    "nginx/1.30.0": False,
    "Apache/2.2.15": True,
    "Microsoft-IIS/7.5": True,
    "PHP/5.6.40": True,
    "ASP.NET/4.0.30319": False,
}

# Set-Cookie values of the site page for each cookies profile, as
# (name, value, Secure, HttpOnly, SameSite). redirect_only sets its cookie
# on the first response of http://NAME/ instead.
COOKIES = {
    "no_cookies": [],
    "all_flags": [("prefs", "dark", True, True, "Lax")],
    "secure_token_without_secure": [
        ("secure_token", "simnet", False, True, "Lax")],
    "redirect_only": [],
    "samesite_none_without_secure": [("tracker", "1", False, True, "None")],
    "session_without_httponly": [("PHPSESSID", "simnet", True, False, "Lax")],
    "missing_samesite": [("lang", "en", True, True, None)],
}
REDIRECT_COOKIE = ("visit", "1", True, True, "Lax")
# Substrings that make a cookie name look like a session cookie.
SESSION_NAME_PARTS = ("sess", "sid", "token", "auth", "login", "csrf", "xsrf")

# Headers of the site page for each security_headers profile.
SECURITY_HEADERS = {
    "none": [],
    "strict": [
        ("Content-Security-Policy",
         "default-src 'self'; object-src 'none'; frame-ancestors 'none'"),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Embedder-Policy", "require-corp"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
    ],
    "unsafe_csp": [
        ("Content-Security-Policy",
         "default-src 'self'; script-src 'self' 'unsafe-inline' "
         "'unsafe-eval'"),
    ],
    "report_only": [
        ("Content-Security-Policy-Report-Only",
         "default-src 'self'; report-uri /csp-report"),
    ],
    "cors_any": [("Access-Control-Allow-Origin", "*")],
}

SECURITY_TXT_PATH = "/.well-known/security.txt"
SECURITY_TXT_VALID_FOR = datetime.timedelta(days=180)
SECURITY_TXT_EXPIRED_SINCE = datetime.timedelta(days=30)

# Location of the redirect_refused shape: a name of the world that resolves
# (scripts/simnet_world.py resolves it) to an address where nothing listens.
REFUSED_REDIRECT_HOST = "mx1.simmail.net"
REFUSED_REDIRECT_TARGET = f"https://{REFUSED_REDIRECT_HOST}/"
# Location of the invalid_location shape. The url crate, WHATWG URL (Node's
# URL) and Python's urllib all reject the unclosed IPv6 literal.
UNPARSABLE_LOCATION = "https://[simnet/"

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10
# Length of the too_many_redirects chain: more than MAX_REDIRECTS.
LONG_CHAIN_REDIRECTS = 12
BODY_SCAN_BYTES = 16 * 1024
CHALLENGE_MARKERS = ("captcha", "cf-chl", "challenge-platform",
                     "just a moment", "access denied", "attention required")
BOT_WALL_STATUSES = (403, 406, 429)


@dataclasses.dataclass
class Response:
    """One response nginx sends: status, Location, headers and body.

    headers excludes Server, which disclosure names: a key of
    DISCLOSURE_HEADERS whose Server entry nginx sends, or None for nginx's
    own "Server: nginx" of the default servers.
    """
    status: int
    disclosure: str | None
    headers: list = dataclasses.field(default_factory=list)
    location: str | None = None
    body: str = ""
    content_type: str = "text/plain"
    cookies: list = dataclasses.field(default_factory=list)

    def header_values(self, name):
        return self.headers_by_name.get(name.lower(), [])

    @functools.cached_property
    def headers_by_name(self):
        """Header values by lower-case name. Computed once, because the
        truth of many domains reads the same shared Response."""
        by_name = {}
        for header, value in self.all_headers():
            by_name.setdefault(header.lower(), []).append(value)
        return by_name

    def all_headers(self):
        if self.disclosure is None:
            disclosure = [("Server", "nginx")]
        else:
            disclosure = DISCLOSURE_HEADERS[self.disclosure]
        cookies = [("Set-Cookie", set_cookie_value(cookie))
                   for cookie in self.cookies]
        return disclosure + self.headers + cookies


def set_cookie_value(cookie):
    name, value, secure, http_only, same_site = cookie
    parts = [f"{name}={value}", "Path=/"]
    if secure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    if same_site:
        parts.append(f"SameSite={same_site}")
    return "; ".join(parts)


@dataclasses.dataclass
class Endpoint:
    """A host served on one scheme: the addresses it listens on, its routes
    (path -> Response) and the response for every other path."""
    host: str
    scheme: str
    addresses: list
    routes: dict
    fallback: Response
    certificate: str | None = None

    def respond(self, path):
        return self.routes.get(path, self.fallback)


# ---------------------------------------------------------------- site model


def site_page(name, row, scheme, label):
    """Return the 200 response that stands for the site's home page."""
    return Response(
        200, row["server_disclosure"],
        headers=site_headers(row, scheme)
        + SECURITY_HEADERS[row["security_headers"]],
        body=f"simnet {label} {name}\n",
        cookies=list(COOKIES[row["cookies"]]))


def site_headers(row, scheme):
    """Return the HSTS headers that every response of a site on this scheme
    carries."""
    if scheme == "https":
        values = HSTS_VALUES[row["hsts"]]
    else:
        values = [HSTS_OVER_HTTP[row["hsts"]]] if row["hsts"] in \
            HSTS_OVER_HTTP else []
    return [("Strict-Transport-Security", value) for value in values]


def plain_response(row, scheme, status, body, content_type="text/plain"):
    return Response(status, row["server_disclosure"],
                    headers=site_headers(row, scheme), body=body,
                    content_type=content_type)


def redirect(row, scheme, status, location, cookies=()):
    return Response(status, row["server_disclosure"],
                    headers=site_headers(row, scheme), location=location,
                    cookies=list(cookies))


def security_txt_response(name, row, now):
    """Return the response at SECURITY_TXT_PATH over HTTPS, or None for
    a 404."""
    case = row["security_txt"]
    if case == "absent":
        return None
    if case == "html_page":
        return plain_response(
            row, "https", 200,
            "<!doctype html><html><body><h1>Security</h1></body></html>\n",
            "text/html")
    expires = now + SECURITY_TXT_VALID_FOR if case == "present" else \
        now - SECURITY_TXT_EXPIRED_SINCE
    body = (f"Contact: mailto:security@{name}\n"
            f"Expires: {rfc3339(expires)}\n")
    return plain_response(row, "https", 200, body)


def shaped_routes(name, row, scheme, profile):
    """Return the routes of a site's home page for its redirect shape on one
    scheme: "/" plus the paths the shape adds."""
    shape = row["redirect_shape"]
    page = site_page(name, row, scheme, profile)
    if shape == "redirect_loop":
        return {"/": redirect(row, scheme, 302, "/a"),
                "/a": redirect(row, scheme, 302, "/b"),
                "/b": redirect(row, scheme, 302, "/a")}
    if shape == "too_many_redirects":
        routes = {"/": redirect(row, scheme, 302, "/hop/1")}
        for hop in range(1, LONG_CHAIN_REDIRECTS):
            routes[f"/hop/{hop}"] = redirect(row, scheme, 302,
                                             f"/hop/{hop + 1}")
        routes[f"/hop/{LONG_CHAIN_REDIRECTS}"] = page
        return routes
    if shape == "downgrade" and scheme == "https":
        return {"/": redirect(row, scheme, 301, f"http://{name}/plain")}
    if shape == "rate_limited":
        return {"/": plain_response(row, scheme, 429,
                                    "simnet: too many requests\n")}
    if shape == "challenge_page":
        return {"/": plain_response(
            row, scheme, 200,
            "<!doctype html><html><head><title>Just a moment...</title>"
            "</head><body>Checking your browser.</body></html>\n",
            "text/html")}
    if shape == "redirect_refused":
        return {"/": redirect(row, scheme, 302, REFUSED_REDIRECT_TARGET)}
    if shape == "invalid_location":
        return {"/": redirect(row, scheme, 302, UNPARSABLE_LOCATION)}
    if shape == "unavailable":
        return {"/": plain_response(row, scheme, 503,
                                    "simnet: service unavailable\n")}
    return {"/": page}


def not_found(row, scheme):
    """Return nginx's own 404 for a path without a route: the server block's
    headers, and nginx's HTML error page as the body, which the truth never
    reads."""
    return plain_response(row, scheme, 404, "", "text/html")


class HttpWorld:
    """Every endpoint of the world, its DNS answers and nginx's default
    servers, with a fetch that returns what nginx sends.

    resolve(host) returns (outcome, IPv4-first address or None): "ok",
    "no_address", "dns_failure" or "dns_bogus".
    """

    def __init__(self, resolve, https_listen, http_listen, tls_defaults,
                 now):
        self.resolve = resolve
        self.https_listen = https_listen
        self.http_listen = http_listen
        # Addresses whose port 443 has a default server that rejects the
        # handshake of unknown names. On other addresses nothing listens.
        self.tls_defaults = set(tls_defaults)
        self.now = now
        self.endpoints = {}
        self.verdicts = {}

    def add_site(self, name, row, verdict, redirect_target, www_served,
                 certificate, www_verdict):
        """Add the endpoints of a listed domain with an address. www_verdict
        is the verdict of the same certificate for www.NAME."""
        profile = row["profile"]
        http_addresses = self.http_listen(row)
        https_addresses = self.https_listen(row)
        if https_addresses:
            routes = shaped_routes(name, row, "https", profile)
            security_txt = security_txt_response(name, row, self.now)
            if security_txt:
                routes[SECURITY_TXT_PATH] = security_txt
            self.endpoints[("https", name)] = Endpoint(
                name, "https", https_addresses, routes,
                not_found(row, "https"), certificate)
            self.verdicts[name] = verdict
        fallback = not_found(row, "http")
        if redirect_target:
            cookies = [REDIRECT_COOKIE] if row["cookies"] == "redirect_only" \
                else []
            home = redirect(row, "http", 301, redirect_target, cookies)
            # Every path redirects, as with a server-wide rule, except where
            # a downgrade needs /plain served over HTTP.
            routes = {"/": home}
            if row["redirect_shape"] != "downgrade":
                routes, fallback = {}, home
        else:
            routes = shaped_routes(name, row, "http", profile)
            if row["cookies"] == "redirect_only":
                routes["/"].cookies.append(REDIRECT_COOKIE)
        if row["redirect_shape"] == "downgrade":
            routes["/plain"] = site_page(name, row, "http", profile)
        self.endpoints[("http", name)] = Endpoint(
            name, "http", http_addresses, routes, fallback)
        if www_served:
            self.add_www(name, row, www_served, https_addresses, www_verdict,
                         certificate)

    def add_www(self, name, row, address, with_https, verdict, certificate):
        """Add www.NAME on address: the same site as NAME without cookies
        and without a redirect shape."""
        www = "www." + name
        page_row = dict(row, cookies="no_cookies", redirect_shape="normal")
        label = "www"
        if with_https:
            routes = {"/": site_page(www, page_row, "https", label)}
            security_txt = security_txt_response(name, row, self.now)
            if security_txt:
                routes[SECURITY_TXT_PATH] = security_txt
            self.endpoints[("https", www)] = Endpoint(
                www, "https", [address], routes, not_found(row, "https"),
                certificate)
            self.verdicts[www] = verdict
            # Every path redirects to the home page over HTTPS.
            routes = {}
            fallback = redirect(row, "http", 301, f"https://{www}/")
        else:
            routes = {"/": site_page(www, page_row, "http", label)}
            fallback = not_found(row, "http")
        self.endpoints[("http", www)] = Endpoint(
            www, "http", [address], routes, fallback)

    def fetch(self, url, address):
        """Return (outcome, Response or None) of GET url sent to address."""
        scheme, host, path = split_url(url)
        endpoint = self.endpoints.get((scheme, host))
        if endpoint is None or address not in endpoint.addresses:
            # nginx's default servers: unknown names get a 404 over plain
            # HTTP and a rejected handshake over TLS.
            if scheme == "http":
                return "ok", UNKNOWN_HOST
            if address in self.tls_defaults:
                return "tls_error", None
            return "connect_refused", None
        return "ok", endpoint.respond(path)


UNKNOWN_HOST = Response(404, None, body="simnet: unknown host\n")


def split_url(url):
    """Return (scheme, host, path) of a normalised URL of this world, which
    has no user, port, query or fragment."""
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return scheme, host, slash + path


def rfc3339(moment):
    return moment.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- nginx


def nginx_string(text):
    # No value of this world contains "$", which nginx would read as a
    # variable.
    assert "$" not in text, text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"') \
        .replace("\n", "\\n")
    return f'"{escaped}"'


def nginx_response(response, indent, send):
    """Return the directives that give response its headers and, when send
    is true, return it."""
    pad = " " * indent
    lines = []
    server = DISCLOSURE_HEADERS[response.disclosure]
    server_value = next((value for header, value in server
                         if header == "Server"), None)
    if server_value is None:
        lines.append(f"{pad}more_clear_headers Server;")
    else:
        lines.append(f"{pad}more_set_headers "
                     f"{nginx_string('Server: ' + server_value)};")
    headers = [(h, v) for h, v in server if h != "Server"] + response.headers
    headers += [("Set-Cookie", set_cookie_value(cookie))
                for cookie in response.cookies]
    for header, value in headers:
        lines.append(f"{pad}add_header {header} {nginx_string(value)} always;")
    if not send:
        return lines
    if response.content_type != "text/plain":
        lines.append(f"{pad}default_type {response.content_type};")
    if response.location is not None:
        lines.append(f"{pad}return {response.status} "
                     f"{nginx_string(response.location)};")
    else:
        lines.append(f"{pad}return {response.status} "
                     f"{nginx_string(response.body)};")
    return lines


def nginx_server_blocks(world):
    """Render every endpoint as an nginx server block.

    Each route is an exact-match location. The fallback goes at server level,
    which costs nginx no location (about 7 KiB of memory each): a 404 fallback
    only sets the headers of nginx's own 404, and any other fallback is a
    server-wide return, which requires an endpoint without routes.
    """
    parts = []
    for (scheme, host), endpoint in world.endpoints.items():
        port = "443 ssl" if scheme == "https" else "80"
        block = ["    server {"]
        block += [f"        listen {listen_address(address)}:{port};"
                  for address in endpoint.addresses]
        block.append(f"        server_name {host};")
        if endpoint.certificate:
            block.append(f"        ssl_certificate {endpoint.certificate};")
        send_fallback = endpoint.fallback.status != 404
        assert not (send_fallback and endpoint.routes), host
        block += nginx_response(endpoint.fallback, 8, send_fallback)
        for path, response in endpoint.routes.items():
            block.append(f"        location = {path} {{")
            block += nginx_response(response, 12, True)
            block.append("        }")
        block.append("    }")
        parts.append("\n".join(block) + "\n")
    return "".join(parts)


def listen_address(address):
    return f"[{address}]" if ":" in address else address


# ---------------------------------------------------------------- truth


@dataclasses.dataclass
class Chain:
    """The fetcher's view of one start URL: the first request's outcome, the
    responses as (url, Response) and how the chain ended."""
    outcome: str
    hops: list
    end: str | None


def normalise_url(url):
    """Serialise url as the url crate does for the URLs of this world."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.hostname, parts.path or "/", parts.query, ""))


def resolve_location(url, location):
    """Return the normalised URL that location names, relative to url, or
    None when location is not a URL."""
    if location == UNPARSABLE_LOCATION:
        return None
    if location.startswith("/") and not location.startswith("//"):
        scheme, host, _ = split_url(url)
        return f"{scheme}://{host}{location}"
    if location.startswith(("https://", "http://")):
        scheme, host, path = split_url(location)
        # The world writes absolute Locations with lower-case hosts and no
        # port, user, query or fragment, which need no normalising.
        if host == host.lower() and not any(c in host for c in ":@?#"):
            return f"{scheme}://{host}{path or '/'}"
    return normalise_url(urllib.parse.urljoin(url, location))


def walk_chain(world, start_url):
    """Follow start_url hop by hop as the fetcher does. start_url must be
    normalised."""
    url = start_url
    host = split_url(url)[1]
    outcome, address = world.resolve(host)
    if outcome != "ok":
        return Chain(outcome, [], None)
    outcome, response = world.fetch(url, address)
    if outcome != "ok":
        return Chain(outcome, [], None)
    hops = [(url, response)]
    visited = {url}
    while True:
        if response.status not in REDIRECT_STATUSES:
            return Chain("ok", hops, "response")
        target = resolve_location(url, response.location) \
            if response.location else None
        if target is None:
            return Chain("ok", hops, "invalid_location")
        if target in visited:
            return Chain("ok", hops, "redirect_loop")
        if len(hops) > MAX_REDIRECTS:
            return Chain("ok", hops, "too_many_redirects")
        next_host = split_url(target)[1]
        if next_host != split_url(url)[1]:
            resolved, address = world.resolve(next_host)
            if resolved != "ok":
                return Chain("ok", hops, "blocked_address")
        fetched, response = world.fetch(target, address)
        if fetched != "ok":
            return Chain("ok", hops, "failed")
        url = target
        visited.add(url)
        hops.append((url, response))


def chain_columns(prefix, chain):
    result = {f"{prefix}_end": chain.end, f"{prefix}_final_url": None,
              f"{prefix}_final_status": None, f"{prefix}_hop_count": None}
    if chain.hops:
        url, response = chain.hops[-1]
        result.update({f"{prefix}_final_url": url,
                       f"{prefix}_final_status": response.status,
                       f"{prefix}_hop_count": len(chain.hops)})
    return result


def graded_response(chains, name):
    """Return (url, Response) graded as the site's, or None."""
    for chain_name in ("https", "www_https"):
        chain = chains.get(chain_name)
        if chain is None or chain.end != "response":
            continue
        url, response = chain.hops[-1]
        scheme, host, _ = split_url(url)
        if scheme == "https" and host in (name, "www." + name):
            return url, response
    return None


def is_bot_wall(response):
    if response.status in BOT_WALL_STATUSES or 500 <= response.status <= 599:
        return True
    body = response.body.encode()[:BODY_SCAN_BYTES].decode(errors="ignore")
    return any(marker in body.lower() for marker in CHALLENGE_MARKERS)


def hsts_columns(chains, world, name):
    columns = ("hsts_header", "hsts_header_count", "hsts_valid",
               "hsts_max_age", "hsts_include_subdomains", "hsts_preload",
               "hsts_preload_ready")
    result = {column: None for column in columns}
    https = chains["https"]
    if https.hops and world.verdicts.get(name) == "trusted":
        values = https.hops[0][1].header_values("Strict-Transport-Security")
        result["hsts_header_count"] = len(values)
        if values:
            valid, max_age, subdomains, preload = HSTS_FACTS[values[0]]
            result.update(hsts_header=values[0], hsts_valid=valid)
            if valid:
                result.update(
                    hsts_max_age=max_age, hsts_include_subdomains=subdomains,
                    hsts_preload=preload,
                    hsts_preload_ready=max_age >= PRELOAD_MIN_MAX_AGE
                    and subdomains and preload)
    plain = [response for chain in chains.values()
             for url, response in chain.hops if url.startswith("http://")]
    result["hsts_over_http"] = any(
        response.header_values("Strict-Transport-Security")
        for response in plain) if plain else None
    return result


def disclosure_columns(responses):
    result = {"server_header": None, "powered_by_header": None,
              "disclosure_products": None, "disclosure_version": None,
              "disclosure_eol": None, "disclosure_cdn": None}
    if not responses:
        return result
    products = []
    for response in responses:
        server = response.header_values("Server")
        powered = response.header_values("X-Powered-By")
        if server and result["server_header"] is None:
            result["server_header"] = server[0]
        if powered and result["powered_by_header"] is None:
            result["powered_by_header"] = powered[0]
        named, cdn = DISCLOSURE_FACTS[response.disclosure or "nginx"]
        if cdn and result["disclosure_cdn"] is None:
            result["disclosure_cdn"] = cdn
        products += [product for product in named if product not in products]
    versioned = [product for product in products if "/" in product]
    result.update(disclosure_products=products or None,
                  disclosure_version=bool(versioned),
                  disclosure_eol=any(PRODUCT_EOL[product]
                                     for product in versioned))
    return result


def cookie_columns(chains):
    columns = ("cookie_count", "cookies_without_secure",
               "cookies_without_httponly", "cookies_without_samesite",
               "session_cookies_without_flag", "cookies_on_redirect")
    result = {column: None for column in columns}
    result["cookies"] = None
    hops = [(chain_name, url, response)
            for chain_name, chain in chains.items()
            for url, response in chain.hops]
    if not hops:
        return result
    # Keyed by (setting host, name): the latest header wins, and the entry
    # keeps the place where the identity was first seen.
    latest = {}
    only_redirects = {}
    for chain_name, url, response in hops:
        scheme, host, _ = split_url(url)
        for cookie in response.cookies:
            identity = (host, cookie[0])
            latest[identity] = cookie_entry(chain_name, scheme, host,
                                            response.status, cookie)
            redirecting = response.status in REDIRECT_STATUSES
            only_redirects[identity] = only_redirects.get(
                identity, True) and redirecting
    entries = list(latest.values())
    result.update(
        cookies=entries,
        cookie_count=len(entries),
        cookies_without_secure=sum(1 for c in entries if not c["secure"]),
        cookies_without_httponly=sum(
            1 for c in entries if not c["http_only"]),
        cookies_without_samesite=sum(
            1 for c in entries if c["same_site"] is None),
        session_cookies_without_flag=sum(
            1 for c in entries
            if c["session_like"] and not (c["secure"] and c["http_only"])),
        cookies_on_redirect=sum(1 for flag in only_redirects.values()
                                if flag))
    return result


def session_like(name):
    return any(part in name.lower() for part in SESSION_NAME_PARTS)


def cookie_entry(chain_name, scheme, host, status, cookie):
    """Return the entry of the cookies list column for one Set-Cookie that
    set_cookie_value wrote: Path=/, no Domain, no expiry and no name
    prefix."""
    name, _, secure, http_only, same_site = cookie
    # The rfc6265bis storage model ignores a cookie with Secure from an
    # origin that is not secure, and SameSite=None without Secure.
    rejected = (secure and scheme != "https") or \
        (same_site == "None" and not secure)
    return {"host": host, "chain": chain_name, "status": status,
            "name": name, "secure": secure, "http_only": http_only,
            "same_site": same_site.lower() if same_site else None,
            "domain": None, "path": "/", "expires": None,
            "session_like": session_like(name), "prefix_satisfied": None,
            "accepted": not rejected}


def security_header_columns(graded):
    columns = ("csp_present", "csp_report_only", "csp_unsafe_inline",
               "csp_unsafe_eval", "csp_frame_ancestors", "x_frame_options",
               "x_content_type_options_nosniff", "referrer_policy",
               "permissions_policy_present", "coop", "coep", "corp",
               "cors_allow_origin_any")
    result = {column: None for column in columns}
    if graded is None or is_bot_wall(graded[1]):
        return result
    response = graded[1]

    def first(name):
        values = response.header_values(name)
        return values[0] if values else None

    csp = first("Content-Security-Policy")
    report_only = first("Content-Security-Policy-Report-Only")
    result.update(
        csp_present=csp is not None,
        csp_report_only=csp is None and report_only is not None,
        x_frame_options=first("X-Frame-Options"),
        x_content_type_options_nosniff=(
            first("X-Content-Type-Options") or "").lower() == "nosniff",
        referrer_policy=first("Referrer-Policy"),
        permissions_policy_present=first("Permissions-Policy") is not None,
        coop=first("Cross-Origin-Opener-Policy"),
        coep=first("Cross-Origin-Embedder-Policy"),
        corp=first("Cross-Origin-Resource-Policy"),
        cors_allow_origin_any=first("Access-Control-Allow-Origin") == "*")
    if csp is not None:
        result.update(csp_unsafe_inline="'unsafe-inline'" in csp,
                      csp_unsafe_eval="'unsafe-eval'" in csp,
                      csp_frame_ancestors="frame-ancestors" in csp)
    return result


def security_txt_columns(world, graded):
    result = {"security_txt": None, "security_txt_expires": None}
    if graded is None:
        return result
    host = split_url(graded[0])[1]
    outcome, address = world.resolve(host)
    fetched, response = world.fetch(f"https://{host}{SECURITY_TXT_PATH}",
                                    address)
    if fetched != "ok" or response.status != 200:
        result["security_txt"] = "absent"
        return result
    fields = {}
    for line in response.body.splitlines():
        field, _, value = line.partition(":")
        fields.setdefault(field.strip().lower(), value.strip())
    if response.content_type != "text/plain" or "contact" not in fields:
        result["security_txt"] = "invalid"
        return result
    expires = datetime.datetime.fromisoformat(
        fields["expires"].replace("Z", "+00:00"))
    result["security_txt"] = "expired" if expires < world.now else "present"
    result["security_txt_expires"] = rfc3339(expires)
    return result


def http_truth(world, name):
    """Return (expected HTTP columns, chains) of a scanned name."""
    starts = {"https": f"https://{name}/", "http": f"http://{name}/"}
    # A name that starts with www. has no www chains: posture does not visit
    # www.www.NAME, and their columns are null.
    if not name.startswith("www."):
        starts["www_https"] = f"https://www.{name}/"
        starts["www_http"] = f"http://www.{name}/"
    chains = {chain_name: walk_chain(world, url)
              for chain_name, url in starts.items()}
    result = {}
    for chain_name in ("www_https", "www_http"):
        chain = chains.get(chain_name)
        result[f"{chain_name}_outcome"] = chain.outcome if chain else None
        if chain is None:
            result.update({f"{chain_name}_{column}": None for column in
                           ("end", "final_url", "final_status", "hop_count")})
    for chain_name, chain in chains.items():
        result.update(chain_columns(chain_name, chain))

    http_end = chains["http"].end
    if http_end is None:
        result["https_enforced"] = None
    else:
        result["https_enforced"] = http_end == "response" and \
            chains["http"].hops[-1][0].startswith("https://")
    responses = [response for chain in chains.values()
                 for _, response in chain.hops]
    downgrade = False
    for chain in chains.values():
        for url, response in chain.hops:
            if url.startswith("https://") and \
                    response.status in REDIRECT_STATUSES and \
                    response.location and (resolve_location(
                        url, response.location) or "").startswith("http://"):
                downgrade = True
    result["https_downgrade"] = downgrade if responses else None

    graded = graded_response(chains, name)
    result["web_graded_url"] = graded[0] if graded else None
    result["web_graded_status"] = graded[1].status if graded else None
    result["web_bot_wall"] = is_bot_wall(graded[1]) if graded else None
    result.update(hsts_columns(chains, world, name))
    result.update(disclosure_columns(responses))
    result.update(cookie_columns(chains))
    result.update(security_header_columns(graded))
    result.update(security_txt_columns(world, graded))
    return result, chains

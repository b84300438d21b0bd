use super::*;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn server(value: &str) -> Vec<Product> {
    parse(DisclosureHeader::Server, value)
}

#[test]
fn bare_product() {
    let products = server("nginx");
    assert_eq!(products.len(), 1);
    assert_eq!(products[0].name, "nginx");
    assert_eq!(products[0].version, None);
    assert!(!products[0].discloses_version());
}

#[test]
fn product_version_and_os() {
    let products = server("Apache/2.4.41 (Ubuntu)");
    assert_eq!(products.len(), 1);
    assert_eq!(products[0].name, "Apache");
    assert_eq!(products[0].version.as_deref(), Some("2.4.41"));
    assert_eq!(products[0].os.as_deref(), Some("Ubuntu"));
    assert!(products[0].discloses_version());
}

#[test]
fn several_products_in_one_header() {
    let products = server("Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips PHP/5.4.16");
    let names: Vec<&str> = products.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Apache", "OpenSSL", "PHP"]);
    assert_eq!(products[0].os.as_deref(), Some("CentOS"));
    assert_eq!(products[1].version.as_deref(), Some("1.0.2k-fips"));
    assert_eq!(products[2].version.as_deref(), Some("5.4.16"));
}

#[test]
fn comment_that_is_not_an_os() {
    let products = server("Apache/2.4.58 (Win64) OpenSSL/3.1.3 mod_wsgi/4.9 (Python/3.11)");
    assert_eq!(products[0].os.as_deref(), Some("Win64"));
    assert_eq!(products.len(), 3);
    assert_eq!(products[2].name, "mod_wsgi");
    assert_eq!(products[2].comments, ["Python/3.11"]);
    assert_eq!(products[2].os, None);
}

#[test]
fn iis_and_distribution_names() {
    let iis = server("Microsoft-IIS/10.0");
    assert_eq!(iis[0].name, "Microsoft-IIS");
    assert_eq!(iis[0].version.as_deref(), Some("10.0"));
    let nginx = server("nginx/1.18.0 (Ubuntu)");
    assert_eq!(nginx[0].os.as_deref(), Some("Ubuntu"));
    let redhat = server("Apache/2.2.15 (Red Hat)");
    assert_eq!(redhat[0].os.as_deref(), Some("Red Hat"));
}

#[test]
fn cdn_banners_recognised() {
    let cases = [
        ("cloudflare", Role::Cdn, "Cloudflare"),
        ("AkamaiGHost", Role::Cdn, "Akamai"),
        ("AmazonS3", Role::Cdn, "Amazon S3"),
        ("CloudFront", Role::Cdn, "Amazon CloudFront"),
        ("gws", Role::Cdn, "Google"),
        ("ESF", Role::Cdn, "Google"),
        ("Google Frontend", Role::Cdn, "Google"),
        ("Vercel", Role::Cdn, "Vercel"),
        ("Netlify", Role::Cdn, "Netlify"),
        ("ECAcc (lha/8D2C)", Role::Cdn, "Edgio"),
        ("BunnyCDN-DE1-1055", Role::Cdn, "bunny.net"),
        ("Varnish", Role::Proxy, "Varnish"),
    ];
    for (value, role, provider) in cases {
        let products = server(value);
        assert_eq!(products[0].role, role, "{value}");
        assert_eq!(products[0].provider, Some(provider), "{value}");
        assert!(!products[0].discloses_version(), "{value}");
    }
}

#[test]
fn versioned_cdn_banner_is_not_disclosure() {
    let products = server("AkamaiNetStorage/1.0");
    assert_eq!(products[0].role, Role::Cdn);
    assert!(!products[0].discloses_version());
}

#[test]
fn powered_by_with_commas() {
    let products = parse(DisclosureHeader::XPoweredBy, "PHP/5.6.40, ASP.NET");
    let names: Vec<&str> = products.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["PHP", "ASP.NET"]);
    assert!(products[0].discloses_version());
    assert_eq!(products[1].version, None);
}

#[test]
fn generator_with_space_before_version() {
    let products = parse(
        DisclosureHeader::XGenerator,
        "Drupal 10 (https://www.drupal.org)",
    );
    assert_eq!(products.len(), 1);
    assert_eq!(products[0].name, "Drupal");
    assert_eq!(products[0].version.as_deref(), Some("10"));
    assert_eq!(products[0].comments, ["https://www.drupal.org"]);
}

#[test]
fn aspnet_version_headers() {
    let aspnet = parse(DisclosureHeader::XAspNetVersion, "4.0.30319");
    assert_eq!(aspnet[0].name, "ASP.NET");
    assert_eq!(aspnet[0].version.as_deref(), Some("4.0.30319"));
    let mvc = parse(DisclosureHeader::XAspNetMvcVersion, " 5.2 ");
    assert_eq!(mvc[0].name, "ASP.NET MVC");
    assert_eq!(mvc[0].version.as_deref(), Some("5.2"));
    assert!(parse(DisclosureHeader::XAspNetVersion, "  ").is_empty());
}

#[test]
fn via_hops() {
    let products = parse(
        DisclosureHeader::Via,
        "1.1 varnish (Varnish/6.0), 1.1 abc123.cloudfront.net (CloudFront), HTTP/1.1 proxy.example.com, 1.1 google",
    );
    assert_eq!(products.len(), 4);
    assert_eq!(products[0].name, "Varnish");
    assert_eq!(products[0].version.as_deref(), Some("6.0"));
    assert_eq!(products[0].role, Role::Proxy);
    assert_eq!(products[1].provider, Some("Amazon CloudFront"));
    assert_eq!(products[2].name, "proxy.example.com");
    assert_eq!(products[2].role, Role::Proxy);
    assert_eq!(products[3].provider, Some("Google"));
    assert!(products.iter().all(|product| !product.discloses_version()));
}

#[test]
fn odd_values_do_not_panic() {
    for value in [
        "",
        "   ",
        "(",
        ")",
        "((a)",
        "a/",
        "/1.0",
        "Apache/2.4 (Ubuntu",
        "\u{e9}t\u{e9}/1 (\u{fc})",
        ",,,",
    ] {
        let _ = server(value);
        let _ = parse(DisclosureHeader::Via, value);
    }
    let trailing_slash = server("Apache/");
    assert_eq!(trailing_slash[0].version, None);
}

#[test]
fn version_without_name_is_no_product() {
    assert_eq!(server("/1.0"), Vec::new());
    // Found by the server_header fuzz target: a version right after a comment.
    let value = "1.1 varnish (Varnish.)/60, 1.1[a1b2.cloudfront.n2.et (Cl/udFront)";
    for header in DisclosureHeader::ALL {
        for product in parse(header, value) {
            assert!(!product.name.is_empty(), "{header:?}: {product:?}");
        }
    }
}

#[test]
fn eol_data_parses() {
    let data = eol_data();
    for id in [
        "nginx",
        "apache-httpd",
        "iis",
        "php",
        "openssl",
        "aspnet",
        "lighttpd",
    ] {
        let product = &data.products[id];
        assert!(!product.cycles.is_empty(), "{id}");
        assert!(product.source.starts_with("https://"), "{id}");
    }
    assert_eq!(data.product_id("microsoft-iis"), Some("iis"));
    assert_eq!(data.product_id("Apache"), Some("apache-httpd"));
}

#[test]
fn eol_boundary_is_inclusive() {
    // PHP 7.4 ended on 2022-11-28.
    let before = eol_verdict("PHP", Some("7.4.33"), date("2022-11-27"));
    assert!(matches!(before, EolVerdict::Supported { .. }), "{before:?}");
    let on_the_day = eol_verdict("PHP", Some("7.4.33"), date("2022-11-28"));
    assert_eq!(
        on_the_day,
        EolVerdict::EndOfLife {
            product: "php".into(),
            cycle: Some("7.4".into()),
            since: Some(date("2022-11-28")),
        }
    );
}

#[test]
fn eol_common_versions() {
    let today = date("2026-12-04");
    assert!(eol_verdict("PHP", Some("5.4.16"), today).is_end_of_life());
    assert!(eol_verdict("Apache", Some("2.2.15"), today).is_end_of_life());
    assert!(!eol_verdict("Apache", Some("2.4.58"), today).is_end_of_life());
    assert!(eol_verdict("Microsoft-IIS", Some("7.5"), today).is_end_of_life());
    assert!(!eol_verdict("Microsoft-IIS", Some("10.0"), today).is_end_of_life());
    assert!(eol_verdict("OpenSSL", Some("1.0.2k-fips"), today).is_end_of_life());
    assert!(eol_verdict("nginx", Some("1.18.0"), today).is_end_of_life());
    assert!(!eol_verdict("nginx", Some("1.30.1"), today).is_end_of_life());
}

#[test]
fn eol_older_than_every_cycle() {
    let verdict = eol_verdict("nginx", Some("0.7.67"), date("2026-12-04"));
    assert_eq!(
        verdict,
        EolVerdict::EndOfLife {
            product: "nginx".into(),
            cycle: None,
            since: None,
        }
    );
    // An unlisted mainline cycle below the oldest supported one.
    assert!(eol_verdict("nginx", Some("1.17.10"), date("2026-12-04")).is_end_of_life());
}

#[test]
fn eol_unknown_cases() {
    let today = date("2026-12-04");
    assert_eq!(
        eol_verdict("nginx", Some("2.0.0"), today),
        EolVerdict::UnknownCycle {
            product: "nginx".into()
        }
    );
    assert_eq!(eol_verdict("nginx", None, today), EolVerdict::NotAssessed);
    assert_eq!(
        eol_verdict("nginx", Some("stable"), today),
        EolVerdict::NotAssessed
    );
    assert_eq!(
        eol_verdict("Caddy", Some("2.7"), today),
        EolVerdict::NotAssessed
    );
}

#[test]
fn eol_cycle_prefix_is_by_number() {
    // 7.0 must not match 7.5, and 1.1.1 must be chosen over a shorter match.
    let today = date("2019-01-01");
    let iis = eol_verdict("Microsoft-IIS", Some("7.5"), today);
    assert!(
        matches!(iis, EolVerdict::Supported { ref cycle, .. } if cycle == "7.5"),
        "{iis:?}"
    );
    let openssl = eol_verdict("OpenSSL", Some("1.1.1w"), today);
    assert!(
        matches!(openssl, EolVerdict::Supported { ref cycle, .. } if cycle == "1.1.1"),
        "{openssl:?}"
    );
}

#[test]
fn version_numbers_parsing() {
    assert_eq!(version_numbers("1.0.2k-fips"), Some(vec![1, 0, 2]));
    assert_eq!(version_numbers("10.0"), Some(vec![10, 0]));
    assert_eq!(version_numbers("8.1.2-1ubuntu2.14"), Some(vec![8, 1, 2]));
    assert_eq!(version_numbers("v1.2"), None);
    assert_eq!(version_numbers(""), None);
}

//! Secrets that must never be shown or stored: the `user:password@` of an endpoint URL.

/// `https://***@host/` for `https://user:pass@host/`; text without userinfo is unchanged.
/// Also redacts a scheme-less `user:pass@host`.
pub fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_userinfo;

    #[test]
    fn userinfo_is_never_shown() {
        for (url, shown) in [
            (
                "https://user:pass@iam.example.com/",
                "https://***@iam.example.com/",
            ),
            ("http://u:p@127.0.0.1:5000", "http://***@127.0.0.1:5000"),
            ("http://u:p@a@127.0.0.1:5000", "http://***@127.0.0.1:5000"),
            ("user:pass@host", "***@host"),
            ("http://127.0.0.1:5000/a@b", "http://127.0.0.1:5000/a@b"),
            ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ] {
            assert_eq!(redact_userinfo(url), shown);
        }
    }
}

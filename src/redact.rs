//! What may be shown: never the `user:password@` of an endpoint URL, and never a raw
//! control or bidirectional-override character from a value read from outside.

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

/// Whether a terminal or log line could be forged or garbled by this character: C0 and C1
/// controls (escape sequences, newlines, carriage returns), DEL, the line and paragraph
/// separators, and the bidirectional marks, embeddings, overrides and isolates.
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{202A}'
                ..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` safe for one line of a terminal or a log: every control or bidirectional
/// character escaped (`\n`, `\t`, `\r`, `\u{1b}`, `\u{202e}`). Files keep exact values;
/// this is for what people read in stdout and stderr.
pub fn for_terminal(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A value read from outside, for an error message: [`for_terminal`], and at most `max`
/// characters of it (`…` marks a cut), so a hostile value can neither flood nor forge the
/// message.
pub fn shown(text: &str, max: usize) -> String {
    let safe = for_terminal(text);
    match safe.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &safe[..cut]),
        None => safe.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{for_terminal, redact_userinfo, shown};

    #[test]
    fn control_and_bidi_characters_are_escaped_for_terminals() {
        assert_eq!(for_terminal("alice"), "alice");
        assert_eq!(
            for_terminal("a\u{1b}]0;title\u{7}b\nc\u{202e}d"),
            "a\\u{1b}]0;title\\u{7}b\\nc\\u{202e}d"
        );
        assert_eq!(for_terminal("\u{2066}x\u{85}"), "\\u{2066}x\\u{85}");
        assert_eq!(for_terminal("Müller 日本"), "Müller 日本");
        assert_eq!(shown("abcdef", 3), "abc…");
        assert_eq!(shown("abc", 3), "abc");
        assert_eq!(shown(&"x".repeat(10_000_000), 40).chars().count(), 41);
    }

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

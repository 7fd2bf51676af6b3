//! Text from outside (a name from AWS, a value of a saved file, a flag), as messages and
//! terminals may show it: never a raw control or bidirectional character, and never more
//! of it than a message needs.

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
    use super::{for_terminal, shown};

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
}

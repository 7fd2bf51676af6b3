//! Matching names against the policy's globs without building a regular expression for
//! every glob.
//!
//! globset turns a glob into a regular expression and compiles it: about half a
//! millisecond and 15 KB per glob, which made a policy file with 100,000 suppressions take
//! a minute and 1.8 GB to load. Almost every glob in a policy file is a name, or a name
//! with `*`, `?`, `[abc]` or `{a,b}` in it. A plain name is compared as it is
//! ([`Matcher::plain`]). For the others, [`Matcher::new`] builds a small program and
//! matches it directly, with exactly the regular expression's meaning. It checks that it
//! read the glob as globset does by writing the regular expression globset would compile
//! and comparing it with globset's own; any other glob is compiled by globset as before.
//!
//! globset compiles a glob `g` (case-insensitive, `*` crossing `/`) to `(?-u)(?i)^re(g)$`,
//! matched on the bytes of the name:
//! - a character matches its UTF-8 bytes, ASCII letters in either case;
//! - `?` matches exactly one byte, `*` any run of bytes;
//! - a class matches one byte in its ranges, or whose other ASCII case is in them (the
//!   case is folded before a `[!...]` class is negated);
//! - `{a,b}` matches either alternative, so the glob matches when one of its expansions does.

use globset::{Glob, GlobMatcher};

/// At most this many expansions of a glob's `{a,b}` alternatives are matched one by one;
/// a glob with more is compiled by globset.
const MAX_EXPANSIONS: usize = 64;

/// A glob with `{a,b}` alternatives nested deeper than this is compiled by globset.
const MAX_NESTING: usize = 4;

#[derive(Clone, Debug)]
pub(super) enum Matcher {
    /// A glob without wildcards: the one name it matches, in ASCII lower case.
    Literal(Box<[u8]>),
    /// The expansions of the glob; a name matches when one of them does.
    Steps {
        expansions: Box<[Box<[Step]>]>,
        classes: Box<[Class]>,
    },
    Compiled(GlobMatcher),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Step {
    /// One byte; ASCII letters are stored in lower case and match either case.
    Byte(u8),
    /// `?`: any one byte.
    Any,
    /// `*`: any run of bytes.
    Star,
    /// `[...]`: the class at this index of the matcher's classes.
    Class(usize),
}

/// `[...]`: one byte in (or, negated, not in) the ASCII ranges, in either case.
#[derive(Clone, Debug)]
pub(super) struct Class {
    negated: bool,
    ranges: Box<[(u8, u8)]>,
}

impl Matcher {
    /// The matcher of a glob without any of `? * [ { } \`: globset reads each of its
    /// characters as itself, so it matches that one name, ASCII letters in either case.
    /// `None` for any other glob.
    pub(super) fn plain(text: &str) -> Option<Matcher> {
        if text
            .bytes()
            .any(|b| matches!(b, b'?' | b'*' | b'[' | b'{' | b'}' | b'\\'))
        {
            return None;
        }
        Some(Matcher::Literal(
            text.to_ascii_lowercase().into_bytes().into_boxed_slice(),
        ))
    }

    pub(super) fn new(glob: &Glob) -> Matcher {
        direct(glob).unwrap_or_else(|| Matcher::Compiled(glob.compile_matcher()))
    }

    pub(super) fn is_match(&self, candidate: &str) -> bool {
        match self {
            Matcher::Literal(name) => candidate.as_bytes().eq_ignore_ascii_case(name),
            Matcher::Steps {
                expansions,
                classes,
            } => expansions
                .iter()
                .any(|steps| steps_match(steps, classes, candidate.as_bytes())),
            Matcher::Compiled(m) => m.is_match(candidate),
        }
    }

    /// For a glob without wildcards: the one name it matches, in ASCII lower case. A name
    /// matches exactly when its ASCII lower case equals this.
    pub(super) fn literal(&self) -> Option<&[u8]> {
        match self {
            Matcher::Literal(name) => Some(name),
            _ => None,
        }
    }
}

/// The glob as read by globset's parser (same options as [`super::Pattern::new`]).
#[derive(Debug)]
enum Token {
    Literal(char),
    Any,
    ZeroOrMore,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Alternates(Vec<Vec<Token>>),
}

/// The direct program for `glob`, when it reads the glob exactly as globset does and the
/// glob needs nothing it does not handle.
fn direct(glob: &Glob) -> Option<Matcher> {
    let tokens = parse(glob.glob())?;
    let mut re = String::with_capacity(glob.regex().len());
    re.push_str("(?-u)(?i)^");
    to_regex(&tokens, &mut re);
    re.push('$');
    if re != glob.regex() {
        return None;
    }
    if expansion_count(&tokens)? > MAX_EXPANSIONS {
        return None;
    }
    if tokens.iter().all(|t| matches!(t, Token::Literal(_))) {
        let mut name = Vec::with_capacity(glob.glob().len());
        for token in &tokens {
            if let Token::Literal(c) = token {
                let mut buf = [0; 4];
                name.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        name.make_ascii_lowercase();
        return Some(Matcher::Literal(name.into_boxed_slice()));
    }
    let mut expansions = vec![Vec::new()];
    let mut classes = Vec::new();
    expand(&tokens, &mut expansions, &mut classes)?;
    Some(Matcher::Steps {
        expansions: expansions.into_iter().map(Vec::into_boxed_slice).collect(),
        classes: classes.into_boxed_slice(),
    })
}

/// globset's parser, for globs without `**` patterns (those are compiled by globset: the
/// regular expressions differ, so [`direct`] gives up on them).
fn parse(glob: &str) -> Option<Vec<Token>> {
    // The innermost open alternation starts at this index of `branches`.
    let mut open: Vec<usize> = Vec::new();
    let mut branches: Vec<Vec<Token>> = vec![Vec::new()];
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            '?' => Token::Any,
            '*' => Token::ZeroOrMore,
            '[' => {
                let negated = matches!(chars.peek(), Some('!' | '^'));
                if negated {
                    chars.next();
                }
                let mut ranges: Vec<(char, char)> = Vec::new();
                let mut first = true;
                let mut in_range = false;
                loop {
                    match chars.next()? {
                        ']' if !first => break,
                        '-' if !first && !in_range => in_range = true,
                        c => {
                            if in_range {
                                let last = ranges.last_mut()?;
                                if c < last.0 {
                                    return None;
                                }
                                last.1 = c;
                            } else {
                                ranges.push((c, c));
                            }
                            in_range = false;
                        }
                    }
                    first = false;
                }
                if in_range {
                    ranges.push(('-', '-'));
                }
                Token::Class { negated, ranges }
            }
            '{' => {
                if open.len() == MAX_NESTING {
                    return None;
                }
                open.push(branches.len());
                branches.push(Vec::new());
                continue;
            }
            '}' => {
                let start = open.pop()?;
                Token::Alternates(branches.drain(start..).collect())
            }
            ',' if !open.is_empty() => {
                branches.push(Vec::new());
                continue;
            }
            '\\' => Token::Literal(chars.next()?),
            c => Token::Literal(c),
        };
        branches.last_mut()?.push(token);
    }
    if branches.len() != 1 {
        return None;
    }
    branches.pop()
}

/// The regular expression globset writes for `tokens` (case-insensitive, `*` crossing `/`).
fn to_regex(tokens: &[Token], re: &mut String) {
    for token in tokens {
        match token {
            Token::Literal(c) => escaped(*c, re),
            Token::Any => re.push('.'),
            Token::ZeroOrMore => re.push_str(".*"),
            Token::Class { negated, ranges } => {
                re.push('[');
                if *negated {
                    re.push('^');
                }
                for &(lo, hi) in ranges {
                    escaped(lo, re);
                    if lo != hi {
                        re.push('-');
                        escaped(hi, re);
                    }
                }
                re.push(']');
            }
            Token::Alternates(alternatives) => {
                let parts: Vec<String> = alternatives
                    .iter()
                    .map(|alt| {
                        let mut part = String::new();
                        to_regex(alt, &mut part);
                        part
                    })
                    .filter(|part| !part.is_empty())
                    .collect();
                if !parts.is_empty() {
                    re.push_str("(?:");
                    re.push_str(&parts.join("|"));
                    re.push(')');
                }
            }
        }
    }
}

/// A character as a literal of a byte-oriented regular expression: ASCII escaped where it
/// means something, every other byte as `\xNN`.
fn escaped(c: char, re: &mut String) {
    if c.is_ascii() {
        if matches!(
            c,
            '\\' | '.'
                | '+'
                | '*'
                | '?'
                | '('
                | ')'
                | '|'
                | '['
                | ']'
                | '{'
                | '}'
                | '^'
                | '$'
                | '#'
                | '&'
                | '-'
                | '~'
        ) {
            re.push('\\');
        }
        re.push(c);
    } else {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            re.push_str("\\x");
            re.push(char::from(HEX[usize::from(b >> 4)]));
            re.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// Whether `tokens` write nothing in the regular expression. globset leaves such
/// alternatives out of `{a,b}`, so `x{a,}` matches `xa` but not `x`; when it leaves out all
/// of them, the alternation matches the empty string.
fn is_empty(tokens: &[Token]) -> bool {
    let mut re = String::new();
    to_regex(tokens, &mut re);
    re.is_empty()
}

/// How many expansions `tokens` has (`None` when there are too many to count).
fn expansion_count(tokens: &[Token]) -> Option<usize> {
    tokens.iter().try_fold(1usize, |n, token| match token {
        Token::Alternates(alternatives) => {
            let mut sum = 0usize;
            for alt in alternatives.iter().filter(|alt| !is_empty(alt)) {
                sum = sum.checked_add(expansion_count(alt)?)?;
            }
            n.checked_mul(sum.max(1))
        }
        _ => Some(n),
    })
}

/// Appends every expansion of `tokens` to each of `prefixes`, and their classes to
/// `classes`. `None` for a class with a character outside ASCII (its regular expression
/// lists bytes, not characters).
fn expand(tokens: &[Token], prefixes: &mut Vec<Vec<Step>>, classes: &mut Vec<Class>) -> Option<()> {
    for token in tokens {
        let step = match token {
            Token::Literal(c) => {
                let mut buf = [0; 4];
                for &b in c.encode_utf8(&mut buf).as_bytes() {
                    for p in prefixes.iter_mut() {
                        p.push(Step::Byte(b.to_ascii_lowercase()));
                    }
                }
                continue;
            }
            Token::Any => Step::Any,
            Token::ZeroOrMore => Step::Star,
            Token::Class { negated, ranges } => {
                let ranges = ranges
                    .iter()
                    .map(|&(lo, hi)| {
                        (lo.is_ascii() && hi.is_ascii()).then_some((lo as u8, hi as u8))
                    })
                    .collect::<Option<_>>()?;
                classes.push(Class {
                    negated: *negated,
                    ranges,
                });
                Step::Class(classes.len() - 1)
            }
            Token::Alternates(alternatives) => {
                let mut next = Vec::new();
                for alt in alternatives.iter().filter(|alt| !is_empty(alt)) {
                    let mut branch = prefixes.clone();
                    expand(alt, &mut branch, classes)?;
                    next.extend(branch);
                }
                if !next.is_empty() {
                    *prefixes = next;
                }
                continue;
            }
        };
        for p in prefixes.iter_mut() {
            p.push(step);
        }
    }
    Some(())
}

impl Class {
    fn matches(&self, byte: u8) -> bool {
        let other = if byte.is_ascii_lowercase() {
            byte.to_ascii_uppercase()
        } else {
            byte.to_ascii_lowercase()
        };
        let inside = self
            .ranges
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&byte) || (lo..=hi).contains(&other));
        inside != self.negated
    }
}

/// Whether `steps` match the whole of `name`. Each step but `*` takes exactly one byte,
/// so on a mismatch only the last `*` needs to take one more byte: at most
/// `steps × name` comparisons, whatever the glob.
fn steps_match(steps: &[Step], classes: &[Class], name: &[u8]) -> bool {
    let (mut s, mut n) = (0, 0);
    // The step after the last `*` seen, and the position in the name where it resumes.
    let mut resume: Option<(usize, usize)> = None;
    while n < name.len() {
        let byte = name[n];
        let step_matches = match steps.get(s) {
            Some(Step::Star) => {
                s += 1;
                resume = Some((s, n));
                continue;
            }
            Some(Step::Byte(b)) => byte.to_ascii_lowercase() == *b,
            Some(Step::Any) => true,
            Some(Step::Class(i)) => classes[*i].matches(byte),
            None => false,
        };
        if step_matches {
            s += 1;
            n += 1;
            continue;
        }
        match resume {
            Some((after_star, from)) => {
                s = after_star;
                n = from + 1;
                resume = Some((after_star, from + 1));
            }
            None => return false,
        }
    }
    steps[s..].iter().all(|step| *step == Step::Star)
}

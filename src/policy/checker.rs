//! The checker the policy parser reports through: every problem with its line and column,
//! collected before anything is returned, and the helpers that read typed values.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Pattern;
use crate::rules::{RULES, find};

pub(super) type Value<'i> = Spanned<DeValue<'i>>;

pub(super) struct Checker<'a> {
    pub(super) text: &'a str,
    pub(super) file: &'a str,
    pub(super) lines: LineIndex,
    pub(super) problems: Vec<(usize, String)>,
}

/// The byte offset where each line of the text starts, computed once, so that the position
/// of an offset costs a binary search instead of a scan of the text before it: the file may
/// hold tens of thousands of `[[suppress]]` entries, each of which records its line.
pub(super) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(super) fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        let mut end = 0;
        for line in text.split_inclusive('\n') {
            end += line.len();
            if line.ends_with('\n') {
                starts.push(end);
            }
        }
        LineIndex { starts }
    }

    /// 1-based line of a byte offset, and the byte offset where that line starts.
    pub(super) fn line(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&start| start <= offset);
        (line, self.starts[line - 1])
    }
}

impl Checker<'_> {
    pub(super) fn problem(&mut self, span: Range<usize>, message: String) {
        self.problems.push((span.start, message));
    }

    /// 1-based line of a byte offset.
    pub(super) fn line(&self, offset: usize) -> usize {
        self.lines.line(offset.min(self.text.len())).0
    }

    /// Every problem as `file:line:column: message`, in file order. The column counts
    /// characters; it is counted on from the previous problem on the same line, so a line
    /// with many problems is read once.
    pub(super) fn finish(mut self) -> Vec<String> {
        self.problems.sort_by_key(|(offset, _)| *offset);
        let text = self.text;
        // (offset, line, column) of the previous problem.
        let mut last: Option<(usize, usize, usize)> = None;
        let mut out = Vec::with_capacity(self.problems.len());
        for (offset, message) in &self.problems {
            let offset = floor_char_boundary(text, (*offset).min(text.len()));
            let (line, line_start) = self.lines.line(offset);
            let (from, column) = match last {
                Some((prev, prev_line, prev_column)) if prev_line == line => (prev, prev_column),
                _ => (line_start, 1),
            };
            let column = column + text[from..offset].chars().count();
            last = Some((offset, line, column));
            out.push(format!("{}:{line}:{column}: {message}", self.file));
        }
        out
    }

    pub(super) fn unknown_key(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        place: &str,
        expected: &[&str],
    ) {
        self.problem(
            key.span(),
            format!(
                "unknown key \"{}\" in {place} (expected one of: {})",
                key.get_ref(),
                expected.join(", ")
            ),
        );
    }

    pub(super) fn table<'v, 'i>(
        &mut self,
        value: &'v Value<'i>,
        path: &str,
        fix: &str,
    ) -> Option<&'v DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.wrong_type(value.span(), path, "a table", other, fix);
                None
            }
        }
    }

    pub(super) fn wrong_type(
        &mut self,
        span: Range<usize>,
        path: &str,
        expected: &str,
        found: &DeValue<'_>,
        fix: &str,
    ) {
        self.problem(
            span,
            format!(
                "\"{path}\" must be {expected}, found {} ({fix})",
                found.type_str()
            ),
        );
    }

    pub(super) fn string<'v>(
        &mut self,
        value: &'v Value<'_>,
        path: &str,
        fix: &str,
    ) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            other => {
                self.wrong_type(value.span(), path, "a string", other, fix);
                None
            }
        }
    }

    pub(super) fn strings<'v>(
        &mut self,
        value: &'v Value<'_>,
        path: &str,
        fix: &str,
    ) -> Vec<(&'v str, Range<usize>)> {
        let mut out = Vec::new();
        match value.get_ref() {
            DeValue::Array(items) => {
                for item in items {
                    match item.get_ref() {
                        DeValue::String(s) => out.push((s.as_ref(), item.span())),
                        other => {
                            self.wrong_type(item.span(), path, "a list of strings", other, fix)
                        }
                    }
                }
            }
            other => self.wrong_type(value.span(), path, "a list of strings", other, fix),
        }
        out
    }

    pub(super) fn pattern(
        &mut self,
        text: &str,
        span: Range<usize>,
        path: &str,
    ) -> Option<Pattern> {
        match Pattern::new(text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.problem(
                    span,
                    format!(
                        "invalid glob \"{text}\" in {path}: {} (globs use *, ?, [abc] and {{a,b}})",
                        e.kind()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn rule_id(
        &mut self,
        id: &str,
        span: Range<usize>,
        place: &str,
        star_allowed: bool,
    ) -> bool {
        if find(id).is_some() || (star_allowed && id == "*") {
            return true;
        }
        let star = if star_allowed {
            ", or \"*\" for every rule"
        } else {
            ""
        };
        let message = match suggest(id) {
            Some(s) => format!(
                "unknown rule \"{id}\" in {place} (did you mean \"{s}\"? `keyhygiene rules` lists every rule{star})"
            ),
            None => format!(
                "unknown rule \"{id}\" in {place} (`keyhygiene rules` lists every rule{star})"
            ),
        };
        self.problem(span, message);
        false
    }
}

/// The largest char boundary of `text` at or before `offset`.
pub(super) fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The registered rule id closest to `id`, when it is close enough to be a typo.
pub(super) fn suggest(id: &str) -> Option<&'static str> {
    RULES
        .iter()
        .map(|r| r.info().id)
        .map(|candidate| (strsim::levenshtein(id, candidate), candidate))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, c)| c)
}

//! Answers are checked before they are believed.
//!
//! The SDK reads a listing whose list element is missing as an empty list, and a missing
//! `IsTruncated` as "no more pages": an answer cut short by a proxy, or forged, would pass
//! as "this account has no users" or "this user has no keys". [`RequiredElements`] looks at
//! the raw answer of every listing the crawl believes, before its result is used, and turns
//! an answer that lacks a required element into an error of that call: the SDK retries it
//! like any other unreadable answer (a response error is transient), and a call that never
//! gets a whole answer becomes a coverage gap (`InvalidResponse`).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The elements an answer of `operation` must hold, when the crawl checks it.
fn required(operation: &str) -> Option<&'static [&'static str]> {
    match operation {
        "GetAccountAuthorizationDetails" => Some(&["UserDetailList", "IsTruncated"]),
        "ListAccessKeys" => Some(&["AccessKeyMetadata", "IsTruncated"]),
        "ListUsers" => Some(&["Users", "IsTruncated"]),
        _ => None,
    }
}

/// Whether an XML document holds an element named `name`: `<name>`, `<name/>` or
/// `<name ` (with attributes). Text in an AWS answer never holds a raw `<`, so a match is
/// an element.
fn has_element(xml: &[u8], name: &str) -> bool {
    let open = format!("<{name}");
    let open = open.as_bytes();
    xml.windows(open.len() + 1).any(|w| {
        w[..open.len()] == *open
            && matches!(w[open.len()], b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n')
    })
}

/// The elements of `required` that `xml` lacks.
pub(crate) fn missing(xml: &[u8], required: &[&'static str]) -> Vec<&'static str> {
    required
        .iter()
        .copied()
        .filter(|name| !has_element(xml, name))
        .collect()
}

/// A successful answer without an element the crawl relies on.
#[derive(Debug, thiserror::Error)]
#[error("{operation} answered without {}: the answer was cut short or is not IAM's", missing.join(" and "))]
pub struct MissingElements {
    pub operation: String,
    pub missing: Vec<&'static str>,
}

/// The interceptor on the IAM client that checks the listings' raw answers.
#[derive(Debug, Clone, Default)]
pub struct RequiredElements;

impl Intercept for RequiredElements {
    fn name(&self) -> &'static str {
        "KeyhygieneRequiredElements"
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(operation) = cfg.load::<Metadata>().map(|m| m.name().to_string()) else {
            return Ok(());
        };
        let Some(required) = required(&operation) else {
            return Ok(());
        };
        if !matches!(context.output_or_error(), Some(Ok(_))) {
            return Ok(());
        }
        // A non-streaming answer was read whole before it was deserialized.
        let lacking = match context.response().and_then(|r| r.body().bytes()) {
            Some(body) => missing(body, required),
            None => required.to_vec(),
        };
        if lacking.is_empty() {
            return Ok(());
        }
        let error = MissingElements {
            operation,
            missing: lacking,
        };
        tracing::warn!("{error}; asking again");
        if let Some(slot) = context.output_or_error_mut() {
            *slot = Err(OrchestratorError::response(Box::new(error)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_found_in_every_spelling_and_only_as_elements() {
        let page = b"<ListUsersResponse><ListUsersResult><IsTruncated>false</IsTruncated>\
            <Users/></ListUsersResult></ListUsersResponse>";
        assert!(missing(page, &["Users", "IsTruncated"]).is_empty());
        let attrs = b"<R><UserDetailList xmlns=\"x\">\n</UserDetailList><IsTruncated>true</IsTruncated></R>";
        assert!(missing(attrs, &["UserDetailList", "IsTruncated"]).is_empty());
        // A longer element name that starts with the wanted one is not it.
        let other = b"<R><UsersList/><IsTruncatedNot>1</IsTruncatedNot></R>";
        assert_eq!(
            missing(other, &["Users", "IsTruncated"]),
            ["Users", "IsTruncated"]
        );
        let bare =
            b"<GetAccountAuthorizationDetailsResponse><GetAccountAuthorizationDetailsResult>\
            </GetAccountAuthorizationDetailsResult></GetAccountAuthorizationDetailsResponse>";
        assert_eq!(
            missing(bare, required("GetAccountAuthorizationDetails").unwrap()),
            ["UserDetailList", "IsTruncated"]
        );
        assert!(required("GetAccessKeyLastUsed").is_none());
    }
}

//! The two AWS protocols the proxy understands: which API call a request is, and what a
//! service's error answer looks like.
//!
//! - The query protocol (IAM, STS): `Action=` and the parameters in the form body (or, for a
//!   GET, in the query string); errors are XML documents.
//! - The JSON protocol (Organizations): the action in the `X-Amz-Target` header
//!   (`AWSOrganizationsV20161128.ListAccounts`), the parameters in the JSON body; errors are
//!   JSON documents whose `__type` is the error code.
//! - S3's REST-XML protocol (a request signed for the `s3` service): the operation from the
//!   method, the path (`/bucket/key`, path-style) and the query (`list-type=2`); the
//!   parameters `Bucket`, `Key` and `Name` (the key's last segment, e.g. `report.json`);
//!   errors are S3's XML `<Error>` documents.

use crate::faults::{self, FaultKind, Outcome};
use crate::wire::{Request, Response};

/// How a request was sent, and so how its error answers must look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// IAM or STS.
    Query { sts: bool },
    /// `service` names the service in messages and IAM actions, e.g. `organizations`.
    Json { service: String },
    /// S3, path-style.
    S3,
}

/// One API call, as the proxy sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiCall {
    pub action: String,
    /// The parameters: the form fields, or the JSON body's top-level scalar fields (numbers
    /// and booleans as their JSON text).
    pub params: Vec<(String, String)>,
    pub protocol: Protocol,
}

impl ApiCall {
    /// The API call a request makes; `None` when it is not one (for example the endpoint's
    /// own control API), and the request is passed through as it is.
    pub fn parse(request: &Request) -> Option<ApiCall> {
        if signed_service(request).as_deref() == Some("s3") {
            return Some(s3_call(request));
        }
        if let Some(target) = request.header("x-amz-target") {
            let target = String::from_utf8_lossy(target);
            let (prefix, action) = target.rsplit_once('.')?;
            if action.is_empty() {
                return None;
            }
            return Some(ApiCall {
                action: action.to_string(),
                params: json_params(&request.body),
                protocol: Protocol::Json {
                    service: json_service(prefix),
                },
            });
        }
        let form = if request.method == "POST" {
            faults::parse_form(&request.body)
        } else {
            let query = request.target.split_once('?').map(|(_, q)| q).unwrap_or("");
            faults::parse_form(query.as_bytes())
        };
        let action = form
            .iter()
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.clone())?;
        let sts = form
            .iter()
            .any(|(k, v)| k == "Version" && v == "2011-06-15");
        Some(ApiCall {
            action,
            params: form,
            protocol: Protocol::Query { sts },
        })
    }

    /// The service's prefix in IAM actions, as in `sts:AssumeRole`.
    fn service(&self) -> &str {
        match &self.protocol {
            Protocol::Query { sts: true } => "sts",
            Protocol::Query { sts: false } => "iam",
            Protocol::Json { service } => service,
            Protocol::S3 => "s3",
        }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The service's error answer for an outcome other than forwarding: `None` for those
    /// that are not answered with an error (forward, reset, slow, slow body).
    pub fn error_response(&self, outcome: Outcome, request_id: &str) -> Option<Response> {
        if self.protocol == Protocol::S3 {
            return self.s3_error(outcome, request_id);
        }
        let json = matches!(self.protocol, Protocol::Json { .. });
        let organizations = self.service() == "organizations";
        let (status, kind, code, message) = match outcome {
            Outcome::Forward
            | Outcome::Empty
            | Outcome::Fault(FaultKind::Reset)
            | Outcome::Fault(FaultKind::Slow)
            | Outcome::Fault(FaultKind::SlowBody) => return None,
            Outcome::Throttle if !json => (400, "Sender", "Throttling", "Rate exceeded".into()),
            Outcome::Throttle if organizations => (
                400,
                "Sender",
                "TooManyRequestsException",
                "AWS Organizations can't complete your request because another request is already in progress. Try again later.".into(),
            ),
            Outcome::Throttle => (400, "Sender", "ThrottlingException", "Rate exceeded".into()),
            Outcome::Invalid => (
                400,
                "Sender",
                "ValidationError",
                format!(
                    "1 validation error detected: Value '{}' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*",
                    self.param("ExternalId")
                        .or(self.params.iter().map(|(_, v)| v.as_str()).find(|v| !v.is_empty()))
                        .unwrap_or_default()
                ),
            ),
            Outcome::Deny => {
                let code = if json {
                    "AccessDeniedException"
                } else {
                    "AccessDenied"
                };
                // Organizations answers AccessDeniedException with HTTP 400, IAM and STS
                // their AccessDenied with 403.
                let status = if json { 400 } else { 403 };
                (status, "Sender", code, self.denial())
            }
            Outcome::Fault(FaultKind::ServiceFailure) if !json => (
                500,
                "Receiver",
                "ServiceFailure",
                "The request processing has failed because of an unknown error, exception or failure.".into(),
            ),
            Outcome::Fault(FaultKind::ServiceFailure) if organizations => (
                500,
                "Receiver",
                "ServiceException",
                "AWS Organizations can't complete your request because of an internal service error. Try again later.".into(),
            ),
            Outcome::Fault(FaultKind::ServiceFailure) => (
                500,
                "Receiver",
                "InternalFailure",
                "The request processing has failed because of an unknown error, exception or failure.".into(),
            ),
        };
        let mut response = if json {
            let body = serde_json::json!({"__type": code, "Message": message}).to_string();
            let mut r = Response::new(status, "application/x-amz-json-1.1", body);
            r.headers
                .push(("x-amzn-ErrorType".into(), code.as_bytes().to_vec()));
            r
        } else {
            Response::new(
                status,
                "text/xml",
                error_xml(self.service(), kind, code, &message, request_id),
            )
        };
        response
            .headers
            .push(("x-amzn-RequestId".into(), request_id.as_bytes().to_vec()));
        Some(response)
    }

    /// A well-formed answer that lists nothing: the action's list empty, not truncated (the
    /// query protocol; the JSON protocol gets an empty object).
    pub fn empty_listing(&self, request_id: &str) -> Response {
        let mut response = match &self.protocol {
            Protocol::S3 => Response::new(
                200,
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>",
                    xml_escape(self.param("Bucket").unwrap_or_default())
                ),
            ),
            Protocol::Json { .. } => Response::new(200, "application/x-amz-json-1.1", "{}"),
            Protocol::Query { .. } => {
                let list = match self.action.as_str() {
                    "GetAccountAuthorizationDetails" => {
                        "<UserDetailList/><GroupDetailList/><RoleDetailList/><Policies/>"
                    }
                    "ListUsers" => "<Users/>",
                    "ListAccessKeys" => "<AccessKeyMetadata/>",
                    "ListUserTags" => "<Tags/>",
                    _ => "",
                };
                let action = &self.action;
                Response::new(
                    200,
                    "text/xml",
                    format!(
                        "<{action}Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><{action}Result>{list}<IsTruncated>false</IsTruncated></{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
                    ),
                )
            }
        };
        response
            .headers
            .push(("x-amzn-RequestId".into(), request_id.as_bytes().to_vec()));
        response
    }

    /// S3's error answer: an XML `<Error>` document with S3's codes and statuses.
    fn s3_error(&self, outcome: Outcome, request_id: &str) -> Option<Response> {
        let (status, code, message) = match outcome {
            Outcome::Forward
            | Outcome::Empty
            | Outcome::Fault(FaultKind::Reset)
            | Outcome::Fault(FaultKind::Slow)
            | Outcome::Fault(FaultKind::SlowBody) => return None,
            Outcome::Throttle => (503, "SlowDown", "Please reduce your request rate."),
            Outcome::Invalid => (400, "InvalidRequest", "The request is not valid."),
            Outcome::Deny => (403, "AccessDenied", "Access Denied"),
            Outcome::Fault(FaultKind::ServiceFailure) => (
                500,
                "InternalError",
                "We encountered an internal error. Please try again.",
            ),
        };
        let mut response = Response::new(
            status,
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><Key>{}</Key><RequestId>{request_id}</RequestId></Error>",
                xml_escape(self.param("Key").unwrap_or_default())
            ),
        );
        response
            .headers
            .push(("x-amz-request-id".into(), request_id.as_bytes().to_vec()));
        Some(response)
    }

    /// The AccessDenied message, naming the action and, when the request names one, the
    /// resource.
    fn denial(&self) -> String {
        let subject = if let Some(user) = self.param("UserName") {
            format!(" on resource: user {user}")
        } else if let Some(key) = self.param("AccessKeyId") {
            format!(" on resource: access key {key}")
        } else if let Some(role) = self.param("RoleArn") {
            format!(" on resource: {role}")
        } else {
            String::new()
        };
        format!(
            "User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: {}:{}{subject} with an explicit deny in an identity-based policy",
            self.service(),
            self.action
        )
    }
}

/// The service a request is signed for: the fourth field of its SigV4 credential scope
/// (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
fn signed_service(request: &Request) -> Option<String> {
    let header = String::from_utf8_lossy(request.header("authorization")?).into_owned();
    let (_, rest) = header.split_once("Credential=")?;
    let scope = rest.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_string)
}

/// An S3 request, path-style: the operation from the method, the path and the query.
fn s3_call(request: &Request) -> ApiCall {
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((request.target.as_str(), ""));
    let path = path.trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let key = percent_decode(key);
    let query = faults::parse_form(query.as_bytes());
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    let action = match (request.method.as_str(), key.is_empty()) {
        ("GET", true) if has("list-type") => "ListObjectsV2",
        ("GET", true) => "ListObjects",
        ("PUT", true) => "CreateBucket",
        ("GET", false) => "GetObject",
        ("HEAD", false) => "HeadObject",
        ("PUT", false) => "PutObject",
        ("DELETE", false) => "DeleteObject",
        _ => "S3Request",
    };
    let mut params = vec![("Bucket".to_string(), percent_decode(bucket))];
    if !key.is_empty() {
        let name = key.rsplit('/').next().unwrap_or_default().to_string();
        params.push(("Key".to_string(), key));
        params.push(("Name".to_string(), name));
    }
    params.extend(query);
    ApiCall {
        action: action.to_string(),
        params,
        protocol: Protocol::S3,
    }
}

/// `%XX` escapes of a path decoded (invalid ones kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The service behind a JSON-protocol target prefix: `AWSOrganizationsV20161128` is
/// `organizations`; others are lowercased without their version.
fn json_service(prefix: &str) -> String {
    if prefix.starts_with("AWSOrganizations") {
        return "organizations".to_string();
    }
    let name = match prefix.rfind('_').or_else(|| prefix.rfind('V')) {
        Some(i)
            if prefix[i + 1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'_') =>
        {
            &prefix[..i]
        }
        _ => prefix,
    };
    name.trim_start_matches("AWS").to_ascii_lowercase()
}

/// The top-level scalar fields of a JSON object body; nothing for anything else.
pub fn json_params(body: &[u8]) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(body) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            serde_json::Value::Bool(b) => Some((k, b.to_string())),
            _ => None,
        })
        .collect()
}

/// The access key id a request was signed with, from its SigV4 `Authorization` header
/// (`AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`).
pub fn access_key_id(request: &Request) -> Option<String> {
    let header = String::from_utf8_lossy(request.header("authorization")?).into_owned();
    let (_, rest) = header.split_once("Credential=")?;
    let (key_id, _) = rest.split_once('/')?;
    let key_id = key_id.trim();
    (!key_id.is_empty()).then(|| key_id.to_string())
}

fn error_xml(service: &str, kind: &str, code: &str, message: &str, request_id: &str) -> String {
    let namespace = if service == "sts" {
        "https://sts.amazonaws.com/doc/2011-06-15/"
    } else {
        "https://iam.amazonaws.com/doc/2010-05-08/"
    };
    format!(
        "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        xml_escape(message)
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: "POST".into(),
            target: "/".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: bytes::Bytes::from(body.to_string()),
            close: false,
        }
    }

    fn organizations(action: &str, body: &str) -> Request {
        request(
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                (
                    "X-Amz-Target",
                    &format!("AWSOrganizationsV20161128.{action}"),
                ),
            ],
            body,
        )
    }

    #[test]
    fn json_calls_take_the_action_from_the_target_and_params_from_the_body() {
        let call = ApiCall::parse(&organizations(
            "ListAccountsForParent",
            r#"{"ParentId":"ou-ab12-cd34ef56","MaxResults":20,"NextToken":"t=1","Nested":{"X":"y"}}"#,
        ))
        .unwrap();
        assert_eq!(call.action, "ListAccountsForParent");
        assert_eq!(
            call.protocol,
            Protocol::Json {
                service: "organizations".into()
            }
        );
        assert_eq!(call.param("ParentId"), Some("ou-ab12-cd34ef56"));
        assert_eq!(call.param("MaxResults"), Some("20"));
        assert_eq!(call.param("NextToken"), Some("t=1"));
        assert_eq!(call.param("Nested"), None);
    }

    #[test]
    fn json_calls_with_an_empty_or_odd_body_have_no_params() {
        for body in ["", "{}", "[1]", "not json"] {
            let call = ApiCall::parse(&organizations("DescribeOrganization", body)).unwrap();
            assert_eq!(call.action, "DescribeOrganization");
            assert!(call.params.is_empty(), "{body}");
        }
        // A target header without an action is not an API call.
        assert_eq!(
            ApiCall::parse(&request(
                &[("x-amz-target", "AWSOrganizationsV20161128.")],
                ""
            )),
            None
        );
    }

    #[test]
    fn query_calls_keep_working() {
        let call = ApiCall::parse(&request(
            &[],
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fauditor&RoleSessionName=kh",
        ))
        .unwrap();
        assert_eq!(call.action, "AssumeRole");
        assert_eq!(call.protocol, Protocol::Query { sts: true });
        assert_eq!(
            call.param("RoleArn"),
            Some("arn:aws:iam::111111111111:role/auditor")
        );
        assert_eq!(ApiCall::parse(&request(&[], "Version=2010-05-08")), None);
    }

    #[test]
    fn json_service_names() {
        assert_eq!(json_service("AWSOrganizationsV20161128"), "organizations");
        assert_eq!(
            json_service("AWSSecurityTokenServiceV20110615"),
            "securitytokenservice"
        );
        assert_eq!(json_service("DynamoDB_20120810"), "dynamodb");
    }

    #[test]
    fn the_access_key_id_comes_from_the_signature() {
        let signed = request(
            &[(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE111/20260126/us-east-1/organizations/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
            )],
            "",
        );
        assert_eq!(access_key_id(&signed).as_deref(), Some("ASIAEXAMPLE111"));
        assert_eq!(access_key_id(&request(&[], "")), None);
        let unsigned = request(&[("authorization", "Bearer x")], "");
        assert_eq!(access_key_id(&unsigned), None);
    }

    fn body_json(response: &Response) -> serde_json::Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    fn header<'a>(response: &'a Response, name: &str) -> Option<&'a [u8]> {
        response
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    #[test]
    fn organizations_errors_are_json_with_its_codes() {
        let call = ApiCall::parse(&organizations("ListAccounts", "{}")).unwrap();
        let throttled = call.error_response(Outcome::Throttle, "rid").unwrap();
        assert_eq!(throttled.status, 400);
        assert_eq!(body_json(&throttled)["__type"], "TooManyRequestsException");
        assert_eq!(
            header(&throttled, "content-type"),
            Some(&b"application/x-amz-json-1.1"[..])
        );
        assert_eq!(header(&throttled, "x-amzn-RequestId"), Some(&b"rid"[..]));

        let denied = call.error_response(Outcome::Deny, "rid").unwrap();
        assert_eq!(denied.status, 400);
        let body = body_json(&denied);
        assert_eq!(body["__type"], "AccessDeniedException");
        assert!(
            body["Message"]
                .as_str()
                .unwrap()
                .contains("perform: organizations:ListAccounts with an explicit deny"),
            "{body}"
        );

        let failed = call
            .error_response(Outcome::Fault(FaultKind::ServiceFailure), "rid")
            .unwrap();
        assert_eq!(failed.status, 500);
        assert_eq!(body_json(&failed)["__type"], "ServiceException");
        assert!(call.error_response(Outcome::Forward, "rid").is_none());
    }

    #[test]
    fn s3_calls_come_from_the_method_path_and_query() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x";
        let call = |method: &str, target: &str| {
            let mut r = request(&[("authorization", auth)], "");
            r.method = method.into();
            r.target = target.into();
            ApiCall::parse(&r).unwrap()
        };
        let put = call("PUT", "/audit/kh/runs/r1/report%2Ejson?x-id=PutObject");
        assert_eq!(put.action, "PutObject");
        assert_eq!(put.param("Key"), Some("kh/runs/r1/report.json"));
        assert_eq!(put.param("Name"), Some("report.json"));
        assert_eq!(put.param("Bucket"), Some("audit"));
        assert_eq!(
            call("GET", "/audit?list-type=2&prefix=kh%2F").action,
            "ListObjectsV2"
        );
        assert_eq!(call("GET", "/audit/kh/a.json").action, "GetObject");
        assert_eq!(call("DELETE", "/audit/kh/a.json").action, "DeleteObject");
        let denied = put.error_response(Outcome::Deny, "rid").unwrap();
        assert_eq!(denied.status, 403);
        let body = String::from_utf8(denied.body.to_vec()).unwrap();
        assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    }

    #[test]
    fn query_errors_stay_xml() {
        let iam = ApiCall::parse(&request(
            &[],
            "Action=ListAccessKeys&Version=2010-05-08&UserName=bob",
        ))
        .unwrap();
        let throttled = iam.error_response(Outcome::Throttle, "rid").unwrap();
        let text = String::from_utf8_lossy(&throttled.body);
        assert!(text.contains("<Code>Throttling</Code>"), "{text}");
        assert!(text.contains("iam.amazonaws.com/doc/2010-05-08"), "{text}");

        let sts = ApiCall::parse(&request(
            &[],
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fauditor",
        ))
        .unwrap();
        let denied = sts.error_response(Outcome::Deny, "rid").unwrap();
        assert_eq!(denied.status, 403);
        let text = String::from_utf8_lossy(&denied.body);
        assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");
        assert!(text.contains("sts.amazonaws.com/doc/2011-06-15"), "{text}");
        assert!(
            text.contains(
                "perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/auditor"
            ),
            "{text}"
        );
    }
}

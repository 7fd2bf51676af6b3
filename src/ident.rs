//! The identifiers AWS gives, parsed once, at the edge: account ids and ARNs.
//!
//! Every account id keyhygiene reads (a flag, an accounts file, a policy file, a saved
//! inventory or manifest, a baseline, a history record, a credential report's ARN, an
//! answer of Organizations or STS) becomes an [`AccountId`] through [`AccountId::parse`]
//! and nothing else: twelve ASCII digits. An id that is anything else never reaches a file
//! name, a report or a comparison; it is refused where it is read, with one line naming
//! the source.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 12-digit AWS account id.
#[derive(Clone, Debug)]
pub struct AccountId(String);

impl std::hash::Hash for AccountId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes: consistent with the comparisons below and with `Borrow<str>`.
        self.0.as_str().hash(state);
    }
}

// Comparisons are counted in the crate's own tests, so a test can tell linear work from
// quadratic work without timing anything.
#[cfg(test)]
thread_local! {
    pub(crate) static COMPARISONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[inline]
fn counted() {
    #[cfg(test)]
    COMPARISONS.with(|c| c.set(c.get() + 1));
}

impl PartialEq for AccountId {
    fn eq(&self, other: &Self) -> bool {
        counted();
        self.0 == other.0
    }
}

impl Eq for AccountId {}

impl PartialOrd for AccountId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AccountId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        counted();
        self.0.cmp(&other.0)
    }
}

/// A text that is not an account id. Displays the text escaped and shortened, so a hostile
/// value can neither flood nor forge the one-line message that names it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{shown}` is not an AWS account id (12 digits, such as 111122223333)")]
pub struct AccountIdError {
    shown: String,
}

impl AccountId {
    /// Twelve ASCII digits, nothing around them.
    pub fn parse(text: &str) -> Result<AccountId, AccountIdError> {
        if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(text.to_string()))
        } else {
            Err(AccountIdError {
                shown: crate::text::shown(text, 40),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for AccountId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for AccountId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for AccountId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for AccountId {
    fn eq(&self, other: &str) -> bool {
        counted();
        self.0 == other
    }
}

impl PartialEq<&str> for AccountId {
    fn eq(&self, other: &&str) -> bool {
        counted();
        self.0 == *other
    }
}

impl std::str::FromStr for AccountId {
    type Err = AccountIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        AccountId::parse(text)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for AccountId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        AccountId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Bytes as lowercase hex: finding ids, record names, key fingerprints and signatures.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// An ARN, `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, as IAM and STS write them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`…
    pub partition: &'a str,
    pub service: &'a str,
    /// The account, when the ARN names one (an S3 bucket's does not).
    pub account: Option<AccountId>,
    /// Everything after the fifth `:` (`user/path/name`, `root`, `assumed-role/R/S`).
    pub resource: &'a str,
}

/// A text that is not an ARN of the expected shape. Displays the text escaped and
/// shortened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{shown}` is not {expected}")]
pub struct ArnError {
    shown: String,
    expected: &'static str,
}

impl<'a> Arn<'a> {
    /// Parses an ARN. Its account part is empty or an [`AccountId`]; anything else (a path,
    /// markup, a formula) makes the whole ARN malformed.
    pub fn parse(text: &'a str) -> Result<Arn<'a>, ArnError> {
        let bad = || ArnError {
            shown: crate::text::shown(text, 80),
            expected: "an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)",
        };
        let mut parts = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(_region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let resource = parts.next().ok_or_else(bad)?;
        let named = |t: &str| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !named(partition) || !named(service) || resource.is_empty() {
            return Err(bad());
        }
        let account = match account {
            "" => None,
            id => Some(AccountId::parse(id).map_err(|_| bad())?),
        };
        Ok(Arn {
            partition,
            service,
            account,
            resource,
        })
    }

    /// An IAM user's ARN (`arn:aws:iam::111122223333:user/path/name`): its account, path
    /// (`/path/`) and name.
    pub fn iam_user(text: &'a str) -> Result<UserArn<'a>, ArnError> {
        let bad = || ArnError {
            shown: crate::text::shown(text, 80),
            expected: "an IAM user ARN (arn:aws:iam::111122223333:user/NAME)",
        };
        let arn = Arn::parse(text).map_err(|_| bad())?;
        let rest = arn.resource.strip_prefix("user/").ok_or_else(bad)?;
        let (Some(account), "iam") = (arn.account, arn.service) else {
            return Err(bad());
        };
        let split = rest.rfind('/').map_or(0, |i| i + 1);
        let name = &rest[split..];
        if name.is_empty() {
            return Err(bad());
        }
        Ok(UserArn {
            partition: arn.partition,
            account,
            path: format!("/{}", &rest[..split]),
            name,
        })
    }
}

/// The parts of an IAM user's ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserArn<'a> {
    pub partition: &'a str,
    pub account: AccountId,
    /// `/` or `/some/path/`.
    pub path: String,
    pub name: &'a str,
}

/// The external id a member role's trust policy requires: a shared secret (AWS's
/// confused-deputy guidance), so it is never printed, logged or stored. Its text is only
/// handed to STS.
#[derive(Clone, PartialEq, Eq)]
pub struct ExternalId(String);

impl std::fmt::Debug for ExternalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExternalId(***)")
    }
}

impl ExternalId {
    /// 2 to 1,224 characters of letters, digits and `_+=,.@:/-`, as STS takes it.
    /// `source` names where it came from; the message never quotes the value.
    pub fn parse(text: &str, source: &str) -> Result<ExternalId, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c);
        let count = text.chars().count();
        if !(2..=1224).contains(&count) || !text.chars().all(allowed) {
            return Err(format!(
                "{source}: the external id is not one STS accepts: 2 to 1,224 characters of letters, digits and _+=,.@:/- (it has {count} characters{}; it is a secret, so it is not shown)",
                if text.chars().all(allowed) {
                    String::new()
                } else {
                    ", some of them not allowed".to_string()
                }
            ));
        }
        Ok(ExternalId(text.to_string()))
    }

    /// The secret itself, for the AssumeRole request alone.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the external id replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "***")
    }
}

/// Checks a role name as `--role-name` takes it: an IAM role name (1 to 64 characters of
/// letters, digits and `_+=,.@-`), after an optional path (`audit/keyhygiene`: segments of
/// printable ASCII without `/`, 512 characters at most).
pub fn check_role_name(text: &str) -> Result<(), String> {
    let fix = "an IAM role name is 1 to 64 letters, digits and _+=,.@-, after an optional path such as audit/";
    let (path, name) = match text.rsplit_once('/') {
        Some((path, name)) => (Some(path), name),
        None => (None, text),
    };
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    let path_ok = path.is_none_or(|path| {
        path.len() <= 510
            && path
                .split('/')
                .all(|seg| !seg.is_empty() && seg.bytes().all(|b| (0x21..=0x7e).contains(&b)))
    });
    if name_ok && path_ok {
        Ok(())
    } else {
        Err(format!(
            "--role-name {}: not a role name ({fix})",
            crate::text::shown(text, 80)
        ))
    }
}

/// Checks a role session name as `--role-session-name` takes it: 2 to 64 characters of
/// letters, digits and `_+=,.@-`.
pub fn check_session_name(text: &str) -> Result<(), String> {
    let ok = (2..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--role-session-name {}: not a session name (2 to 64 letters, digits and _+=,.@-)",
            crate::text::shown(text, 80)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_id_is_twelve_ascii_digits_and_nothing_else() {
        assert_eq!(
            AccountId::parse("012345678901").unwrap().as_str(),
            "012345678901"
        );
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            " 123456789012",
            "123456789012\n",
            "x/../../ESCAPED",
            "<img src=x>",
            "=HYPERLINK(\"x\")",
            "١٢٣٤٥٦٧٨٩٠١٢",
            "12345678901２",
        ] {
            let err = AccountId::parse(bad).unwrap_err().to_string();
            assert!(err.contains("is not an AWS account id"), "{err}");
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
        let long = "9".repeat(10_000);
        assert!(AccountId::parse(&long).unwrap_err().to_string().len() < 200);
    }

    #[test]
    fn account_ids_read_from_json_go_through_the_parser() {
        let ok: AccountId = serde_json::from_str("\"111122223333\"").unwrap();
        assert_eq!(ok, "111122223333");
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"111122223333\"");
        let err = serde_json::from_str::<AccountId>("\"x/../../ESCAPED\"").unwrap_err();
        assert!(
            err.to_string().contains("is not an AWS account id"),
            "{err}"
        );
        assert!(serde_json::from_str::<AccountId>("111122223333").is_err());
    }

    #[test]
    fn arns_are_split_into_their_parts() {
        let user = Arn::iam_user("arn:aws:iam::123456789012:user/some/path/name").unwrap();
        assert_eq!(user.account, "123456789012");
        assert_eq!(user.path, "/some/path/");
        assert_eq!(user.name, "name");
        assert_eq!(user.partition, "aws");
        let user = Arn::iam_user("arn:aws-cn:iam::123456789012:user/n").unwrap();
        assert_eq!((user.path.as_str(), user.name), ("/", "n"));
        let root = Arn::parse("arn:aws-us-gov:iam::123456789012:root").unwrap();
        assert_eq!(root.partition, "aws-us-gov");
        assert_eq!(root.account.unwrap(), "123456789012");
        assert_eq!(Arn::parse("arn:aws:s3:::bucket").unwrap().account, None);
        for bad in [
            "not an arn",
            "arn:aws:iam::x/../..:user/a",
            "arn:aws:iam::123456789012",
            "arn:aws:iam::123456789012:",
            "arn::iam::123456789012:root",
        ] {
            assert!(Arn::parse(bad).is_err(), "{bad}");
        }
        for bad in [
            "arn:aws:iam::123456789012:root",
            "arn:aws:iam::123456789012:user/",
            "arn:aws:iam::123456789012:role/x",
            "arn:aws:sts::123456789012:user/x",
            "arn:aws:iam:::user/x",
        ] {
            assert!(Arn::iam_user(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_external_id_is_checked_without_being_shown() {
        let ok = ExternalId::parse("Shared-Secret_1+=,.@:/-", "--external-id").unwrap();
        assert_eq!(ok.expose(), "Shared-Secret_1+=,.@:/-");
        assert_eq!(format!("{ok:?}"), "ExternalId(***)");
        assert_eq!(
            ok.redact("Value 'Shared-Secret_1+=,.@:/-' at 'externalId'"),
            "Value '***' at 'externalId'"
        );
        for bad in [
            "x",
            "has space secret",
            "tab\tsecret",
            &"a".repeat(1225),
            "é-secret",
        ] {
            let err = ExternalId::parse(bad, "KEYHYGIENE_EXTERNAL_ID").unwrap_err();
            assert!(err.starts_with("KEYHYGIENE_EXTERNAL_ID: "), "{err}");
            assert!(bad.len() < 4 || !err.contains(bad), "{err}");
        }
    }

    #[test]
    fn role_and_session_names_follow_iam_s_rules() {
        for ok in [
            "OrganizationAccountAccessRole",
            "keyhygiene-audit",
            "audit/keyhygiene",
            "a/b/c.d@e",
        ] {
            assert_eq!(check_role_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "has space",
            &"r".repeat(65),
            "audit/",
            "/x",
            "a//b",
            "x\u{1b}[2K",
        ] {
            assert!(check_role_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_session_name("keyhygiene"), Ok(()));
        for bad in ["k", "has space", &"s".repeat(65), "a/b"] {
            assert!(check_session_name(bad).is_err(), "{bad:?}");
        }
    }
}

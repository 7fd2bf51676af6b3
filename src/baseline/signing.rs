//! Signatures of what a run remembers: history records and the `report.json` a later run
//! may take as its baseline.
//!
//! A history folder shared by several jobs is only as trustworthy as everyone who can write
//! to it: anyone who can write there can append a finding to the newest record (the next
//! run calls it "unchanged" and `--fail-on-new` stays quiet) or invent findings (the next
//! run calls them "resolved"). With a key (`KEYHYGIENE_HISTORY_KEY`, or
//! `--history-key-file FILE`: hex, at least 32 bytes), every record is signed with
//! HMAC-SHA-256, and a record whose signature does not verify is not believed.
//!
//! The signature is one line of JSON after the signed bytes:
//! `{"keyhygiene_signature":{"alg":"hmac-sha256","key":"<fingerprint>","mac":"<hex>"}}`.
//! A history record carries it as its last line (the file is then a stream of two JSON
//! documents); `report.json` carries it in `report.json.sig` beside it, so the report
//! itself stays one plain JSON document. The key is never printed; its fingerprint (the
//! first 8 hex digits of a SHA-256 of it) says which key signed.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The fewest bytes a key may have.
pub const MIN_KEY_BYTES: usize = 32;

/// The file beside a `report.json` that holds its signature.
pub const SIGNATURE_SUFFIX: &str = ".sig";

/// A key for the history's signatures. Its bytes are never shown.
#[derive(Clone)]
pub struct HistoryKey {
    bytes: Vec<u8>,
    fingerprint: String,
}

impl std::fmt::Debug for HistoryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HistoryKey({})", self.fingerprint)
    }
}

impl HistoryKey {
    /// A key from its hex text (`source` names where it came from in messages, which never
    /// quote the text).
    pub fn parse(text: &str, source: &str) -> Result<HistoryKey, String> {
        let hex: String = text.trim().trim_start_matches('\u{feff}').to_string();
        let fix =
            "write at least 64 hex digits (32 bytes), e.g. the output of `openssl rand -hex 32`";
        let Some(bytes) = unhex(&hex) else {
            return Err(format!("{source}: the history key is not hex ({fix})"));
        };
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "{source}: the history key has {} bytes, fewer than {MIN_KEY_BYTES} ({fix})",
                bytes.len()
            ));
        }
        let digest = Sha256::digest([b"keyhygiene-history-key\n".as_slice(), &bytes].concat());
        let fingerprint = crate::ident::hex(&digest[..4]);
        Ok(HistoryKey { bytes, fingerprint })
    }

    /// The key's fingerprint: which key signed, without saying anything of the key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn mac(&self, content: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.bytes).expect("HMAC takes any key");
        mac.update(content);
        mac
    }

    /// The signature line of `content`, newline included.
    pub fn sign(&self, content: &[u8]) -> Vec<u8> {
        let mut signer = self.signer();
        signer.update(content);
        signer.finish()
    }

    /// A signature computed over content given in pieces (a large file, read in chunks).
    pub fn signer(&self) -> Signer {
        Signer {
            mac: self.mac(&[]),
            fingerprint: self.fingerprint.clone(),
        }
    }

    /// Whether `line` is a valid signature of `content` by this key; the reason when not.
    pub fn verify(&self, content: &[u8], line: Option<&[u8]>) -> Result<(), String> {
        let Some(line) = line else {
            return Err("it is not signed".to_string());
        };
        let Ok(parsed) = serde_json::from_slice::<SignatureLine>(line) else {
            return Err("its signature line is not one".to_string());
        };
        let s = parsed.keyhygiene_signature;
        if s.alg != ALG {
            return Err("its signature is not HMAC-SHA-256".to_string());
        }
        if s.key != self.fingerprint {
            return Err(format!(
                "it is signed with another key (fingerprint {}, this run's is {})",
                crate::text::shown(&s.key, 16),
                self.fingerprint
            ));
        }
        let Some(mac) = unhex(&s.mac) else {
            return Err("its signature is not hex".to_string());
        };
        self.mac(content)
            .verify_slice(&mac)
            .map_err(|_| "its signature does not match its content".to_string())
    }
}

/// A signature under way ([`HistoryKey::signer`]).
pub struct Signer {
    mac: Hmac<Sha256>,
    fingerprint: String,
}

impl Signer {
    pub fn update(&mut self, chunk: &[u8]) {
        self.mac.update(chunk);
    }

    /// The signature line of everything given, newline included.
    pub fn finish(self) -> Vec<u8> {
        let line = SignatureLine {
            keyhygiene_signature: Signature {
                alg: ALG.to_string(),
                key: self.fingerprint,
                mac: crate::ident::hex(&self.mac.finalize().into_bytes()),
            },
        };
        let mut out = serde_json::to_vec(&line).expect("a signature serializes");
        out.push(b'\n');
        out
    }
}

const ALG: &str = "hmac-sha256";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureLine {
    keyhygiene_signature: Signature,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signature {
    alg: String,
    key: String,
    mac: String,
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A file's bytes split into its content and its signature line, when its last line is
/// one.
pub fn split(bytes: &[u8]) -> (&[u8], Option<&[u8]>) {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let last = &body[start..];
    if start > 0 && last.starts_with(b"{\"keyhygiene_signature\"") {
        (&bytes[..start], Some(last))
    } else {
        (bytes, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn a_signed_record_verifies_and_a_changed_one_does_not() {
        let key = HistoryKey::parse(KEY, "test").unwrap();
        let content = b"{\"kind\":\"keyhygiene-history\"}\n".to_vec();
        let mut file = content.clone();
        file.extend(key.sign(&content));
        let (body, line) = split(&file);
        assert_eq!(body, content.as_slice());
        assert_eq!(key.verify(body, line), Ok(()));
        // One more finding appended to the content.
        let mut forged = b"{\"kind\":\"keyhygiene-history\",\"x\":1}\n".to_vec();
        forged.extend_from_slice(line.unwrap());
        forged.push(b'\n');
        let (body, line) = split(&forged);
        assert!(
            key.verify(body, line)
                .unwrap_err()
                .contains("does not match")
        );
        // Unsigned, and signed by another key.
        assert_eq!(split(&content).1, None);
        assert!(
            key.verify(&content, None)
                .unwrap_err()
                .contains("not signed")
        );
        let other = HistoryKey::parse(&KEY.replace('0', "1"), "test").unwrap();
        let mut theirs = content.clone();
        theirs.extend(other.sign(&content));
        let (body, line) = split(&theirs);
        assert!(key.verify(body, line).unwrap_err().contains("another key"));
    }

    #[test]
    fn keys_are_hex_of_32_bytes_or_more_and_never_shown() {
        for bad in ["", "xyz", &KEY[..62], "0", &format!("{KEY}0")] {
            let err = HistoryKey::parse(bad, "KEYHYGIENE_HISTORY_KEY").unwrap_err();
            assert!(err.starts_with("KEYHYGIENE_HISTORY_KEY: "), "{err}");
            assert!(bad.len() < 8 || !err.contains(bad), "{err}");
        }
        let key = HistoryKey::parse(&format!("  {KEY}\n"), "f").unwrap();
        assert_eq!(key.fingerprint().len(), 8);
        assert!(!format!("{key:?}").contains("0011"));
    }
}

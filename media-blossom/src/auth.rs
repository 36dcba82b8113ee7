//! Blossom authorization: nostr events of kind 24242, signed with BIP-340 Schnorr signatures
//! and sent as `Authorization: Nostr <base64 event>`.
//!
//! [`AuthEvent::from_header`] parses and checks an event as BUD-01 says (kind, id, signature,
//! `created_at` not in the future, NIP-40 `expiration` in the future, the `t` verb, `x` tags,
//! optional `server` tags); [`NostrKeys`] signs events for [`crate::BlossomBackend`].

use std::fmt;

use base64::Engine as _;
use k256::schnorr::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The kind of Blossom authorization events.
pub const AUTH_KIND: u64 = 24242;

/// Longest `Authorization` header accepted (an event with a few hundred `x` tags).
pub const MAX_AUTH_HEADER: usize = 64 * 1024;

/// How far in the future a `created_at` may be (clock skew between phones and the node).
pub const CLOCK_SKEW_SECS: u64 = 60;

/// Why an authorization was refused: the text goes to the client as `X-Reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Nostr …` header (401).
    #[error("missing Nostr authorization")]
    Missing,
    /// The header or event does not parse, or a field is malformed (401).
    #[error("malformed authorization: {0}")]
    Malformed(String),
    /// The event id or signature does not verify (401).
    #[error("the authorization's {0} does not verify")]
    BadSignature(&'static str),
    /// Expired, from the future, wrong verb, wrong `x`, wrong server (401).
    #[error("{0}")]
    Refused(String),
    /// A valid signer this server does not accept (403).
    #[error("pubkey {0} may not use this server")]
    Forbidden(String),
}

impl AuthError {
    /// The HTTP status for this refusal: 403 for a valid signer who is not allowed, else 401.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Forbidden(_) => 403,
            _ => 401,
        }
    }
}

/// A nostr event (NIP-01), as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NostrEvent {
    /// SHA-256 of the serialized event, hex.
    pub id: String,
    /// The signer's x-only public key, hex.
    pub pubkey: String,
    /// Unix seconds.
    pub created_at: u64,
    /// 24242 for Blossom.
    pub kind: u64,
    /// Tags: `["t", verb]`, `["x", sha256]`, `["expiration", secs]`, `["server", host]`, ...
    pub tags: Vec<Vec<String>>,
    /// A human readable line.
    pub content: String,
    /// BIP-340 signature of `id`, hex.
    pub sig: String,
}

impl NostrEvent {
    /// The NIP-01 event id of these fields: SHA-256 of `[0,pubkey,created_at,kind,tags,content]`.
    pub fn compute_id(
        pubkey: &str,
        created_at: u64,
        kind: u64,
        tags: &[Vec<String>],
        content: &str,
    ) -> [u8; 32] {
        let serialized = serde_json::json!([0, pubkey, created_at, kind, tags, content]);
        Sha256::digest(serialized.to_string().as_bytes()).into()
    }

    /// Values of every tag named `name`.
    pub fn tag_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tags
            .iter()
            .filter(move |t| t.first().map(String::as_str) == Some(name))
            .filter_map(|t| t.get(1).map(String::as_str))
    }

    /// Check the id and the signature.
    pub fn verify(&self) -> Result<(), AuthError> {
        let pubkey = hex32(&self.pubkey, "pubkey")?;
        let id = hex32(&self.id, "id")?;
        let computed = Self::compute_id(
            &self.pubkey,
            self.created_at,
            self.kind,
            &self.tags,
            &self.content,
        );
        if computed != id {
            return Err(AuthError::BadSignature("event id"));
        }
        let sig = hex::decode(&self.sig)
            .ok()
            .and_then(|b| Signature::try_from(b.as_slice()).ok())
            .ok_or_else(|| AuthError::Malformed("sig is not a 64-byte hex signature".into()))?;
        let key = VerifyingKey::from_bytes(&pubkey)
            .map_err(|_| AuthError::Malformed("pubkey is not a curve point".into()))?;
        key.verify_raw(&id, &sig)
            .map_err(|_| AuthError::BadSignature("signature"))
    }

    /// The `Authorization` header value carrying this event (base64url, as blossom-client-sdk
    /// sends it).
    pub fn to_header(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!(
            "Nostr {}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
        )
    }
}

fn hex32(s: &str, what: &str) -> Result<[u8; 32], AuthError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out)
        .map_err(|_| AuthError::Malformed(format!("{what} is not 32 bytes of lowercase hex")))?;
    Ok(out)
}

/// What an endpoint asks of an authorization event.
#[derive(Debug, Clone)]
pub struct AuthRequirement<'a> {
    /// The `t` verb: `get`, `upload`, `list`, `delete` or `media`.
    pub verb: &'a str,
    /// The blob the request is about, when an `x` tag must name it.
    pub sha256: Option<&'a str>,
    /// This server's host names; a `server` tag, when present, must name one of them.
    pub server_names: &'a [String],
    /// Now, in Unix seconds.
    pub now: u64,
    /// Longest lifetime accepted, in seconds: an `expiration` later than `now` plus this is
    /// refused, so a leaked event is not a key for years.
    pub max_lifetime: u64,
}

/// Default [`AuthRequirement::max_lifetime`]: two hours (clients such as
/// `blossom-client-sdk` sign for one).
pub const DEFAULT_MAX_LIFETIME_SECS: u64 = 2 * 3600;

/// A checked authorization: who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authorized {
    /// The signer's public key, hex.
    pub pubkey: String,
    /// The event's id (hex): what a server remembers to refuse a replay.
    pub event_id: String,
    /// The event's `expiration`, Unix seconds: how long a replay must be refused.
    pub expires: u64,
    /// The event's `created_at`, Unix seconds.
    pub created_at: u64,
}

/// Parse `Authorization: Nostr <base64>` and check it against `req`.
pub fn check_header(
    header: Option<&str>,
    req: &AuthRequirement<'_>,
) -> Result<Authorized, AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    if header.len() > MAX_AUTH_HEADER {
        return Err(AuthError::Malformed(
            "the authorization header is too long".into(),
        ));
    }
    let encoded = header
        .strip_prefix("Nostr ")
        .ok_or(AuthError::Missing)?
        .trim();
    let event = decode_event(encoded)?;
    let expires = check_event(&event, req)?;
    Ok(Authorized {
        pubkey: event.pubkey,
        event_id: event.id,
        expires,
        created_at: event.created_at,
    })
}

/// The event in an `Authorization: Nostr …` header, unchecked (to read its tags before the
/// checks that need them).
pub fn peek_event(header: &str) -> Option<NostrEvent> {
    if header.len() > MAX_AUTH_HEADER {
        return None;
    }
    decode_event(header.strip_prefix("Nostr ")?.trim()).ok()
}

/// Standard or URL-safe base64, padded or not: clients differ.
fn decode_event(encoded: &str) -> Result<NostrEvent, AuthError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let json = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(encoded).ok())
        .ok_or_else(|| AuthError::Malformed("the event is not base64".into()))?;
    serde_json::from_slice(&json)
        .map_err(|e| AuthError::Malformed(format!("the event is not a nostr event: {e}")))
}

/// The BUD-01 checks, cheapest first; the signature last but before anything is trusted.
/// Returns the event's expiration.
pub fn check_event(event: &NostrEvent, req: &AuthRequirement<'_>) -> Result<u64, AuthError> {
    if event.kind != AUTH_KIND {
        return Err(AuthError::Refused(format!(
            "the authorization is of kind {}, not {AUTH_KIND}",
            event.kind
        )));
    }
    if event.created_at > req.now + CLOCK_SKEW_SECS {
        return Err(AuthError::Refused(
            "the authorization was created in the future".into(),
        ));
    }
    let expiration = event
        .tag_values("expiration")
        .next()
        .ok_or_else(|| AuthError::Refused("the authorization has no expiration tag".into()))?
        .parse::<u64>()
        .map_err(|_| AuthError::Malformed("the expiration is not a Unix time".into()))?;
    if expiration <= req.now {
        return Err(AuthError::Refused("the authorization has expired".into()));
    }
    if expiration > req.now.saturating_add(req.max_lifetime) {
        return Err(AuthError::Refused(format!(
            "the authorization expires too late (at most {} s from now here)",
            req.max_lifetime
        )));
    }
    if !event.tag_values("t").any(|verb| verb == req.verb) {
        return Err(AuthError::Refused(format!(
            "the authorization is not for `{}`",
            req.verb
        )));
    }
    if let Some(sha256) = req.sha256 {
        if !event
            .tag_values("x")
            .any(|x| x.eq_ignore_ascii_case(sha256))
        {
            return Err(AuthError::Refused(format!(
                "the authorization names no x tag for {sha256}"
            )));
        }
    }
    let mut servers = event.tag_values("server").peekable();
    if servers.peek().is_some()
        && !servers.any(|s| {
            let host = server_host(s);
            req.server_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&host))
        })
    {
        return Err(AuthError::Refused(
            "the authorization is scoped to another server".into(),
        ));
    }
    event.verify()?;
    Ok(expiration)
}

/// The host name in a `server` tag: `cdn.example.com`, `https://cdn.example.com/` or
/// `http://127.0.0.1:3000` all name their host.
pub fn server_host(tag: &str) -> String {
    let rest = tag.split_once("://").map_or(tag, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.to_ascii_lowercase()
}

/// A nostr secret key, for signing authorization events. Never printed.
#[derive(Clone)]
pub struct NostrKeys {
    secret: SigningKey,
}

impl fmt::Debug for NostrKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NostrKeys")
            .field("pubkey", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

impl NostrKeys {
    /// A fresh key from the OS's CSPRNG.
    pub fn generate() -> Result<Self, AuthError> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes)
                .map_err(|e| AuthError::Malformed(format!("OS random source: {e}")))?;
            if let Ok(secret) = SigningKey::from_bytes(&bytes) {
                return Ok(NostrKeys { secret });
            }
        }
    }

    /// A key from its 64 hex digits.
    pub fn from_hex(secret_hex: &str) -> Result<Self, AuthError> {
        let bytes = hex32(secret_hex.trim(), "secret key")?;
        let secret = SigningKey::from_bytes(&bytes)
            .map_err(|_| AuthError::Malformed("the secret key is out of range".into()))?;
        Ok(NostrKeys { secret })
    }

    /// The secret as 64 hex digits (to save it; keep it out of logs).
    pub fn secret_hex(&self) -> String {
        hex::encode(self.secret.to_bytes())
    }

    /// The x-only public key, hex: the nostr identity.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.secret.verifying_key().to_bytes())
    }

    /// Sign a kind-24242 authorization for `verb`, naming `sha256` blobs, valid for
    /// `valid_for_secs` from `now`.
    pub fn authorize(
        &self,
        verb: &str,
        sha256: &[&str],
        content: &str,
        now: u64,
        valid_for_secs: u64,
    ) -> Result<NostrEvent, AuthError> {
        let mut tags = vec![
            vec!["t".to_owned(), verb.to_owned()],
            vec!["expiration".to_owned(), (now + valid_for_secs).to_string()],
        ];
        tags.extend(sha256.iter().map(|x| vec!["x".to_owned(), (*x).to_owned()]));
        self.sign(AUTH_KIND, tags, content, now)
    }

    /// Sign any event.
    pub fn sign(
        &self,
        kind: u64,
        tags: Vec<Vec<String>>,
        content: &str,
        created_at: u64,
    ) -> Result<NostrEvent, AuthError> {
        let pubkey = self.public_key_hex();
        let id = NostrEvent::compute_id(&pubkey, created_at, kind, &tags, content);
        let mut aux = [0u8; 32];
        getrandom::fill(&mut aux)
            .map_err(|e| AuthError::Malformed(format!("OS random source: {e}")))?;
        let sig = self
            .secret
            .sign_raw(&id, &aux)
            .map_err(|_| AuthError::Malformed("signing failed".into()))?;
        Ok(NostrEvent {
            id: hex::encode(id),
            pubkey,
            created_at,
            kind,
            tags,
            content: content.to_owned(),
            sig: hex::encode(sig.to_bytes()),
        })
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(
        verb: &'a str,
        sha: Option<&'a str>,
        names: &'a [String],
        now: u64,
    ) -> AuthRequirement<'a> {
        AuthRequirement {
            verb,
            sha256: sha,
            server_names: names,
            now,
            max_lifetime: DEFAULT_MAX_LIFETIME_SECS,
        }
    }

    #[test]
    fn bip340_test_vector_verifies_and_a_flipped_bit_does_not() {
        // BIP-340 test vector 1 (secret key 0xB7E1…, message 0x2432…), as a raw signature check.
        let key = SigningKey::from_bytes(
            &hex::decode("B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            hex::encode(key.verifying_key().to_bytes()).to_uppercase(),
            "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659"
        );
        let msg = hex::decode("243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89")
            .unwrap();
        let aux = hex::decode("0000000000000000000000000000000000000000000000000000000000000001")
            .unwrap();
        let sig = key
            .sign_raw(&msg, aux.as_slice().try_into().unwrap())
            .unwrap();
        assert_eq!(
            hex::encode(sig.to_bytes()).to_uppercase(),
            "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE33418906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A"
        );
        key.verifying_key().verify_raw(&msg, &sig).unwrap();
        let mut bytes = sig.to_bytes();
        bytes[10] ^= 1;
        let bad = Signature::try_from(bytes.as_slice()).unwrap();
        assert!(key.verifying_key().verify_raw(&msg, &bad).is_err());
    }

    #[test]
    fn a_signed_event_passes_and_every_forgery_is_refused() {
        let keys = NostrKeys::generate().unwrap();
        let now = 1_800_000_000;
        let x = "b1674191a88ec5cdd733e4240a81803105dc412d6c6708d53ab94fc248f4f553";
        let names = vec!["127.0.0.1".to_owned()];
        let event = keys
            .authorize("upload", &[x], "Upload", now - 5, 600)
            .unwrap();
        let ok = check_header(
            Some(&event.to_header()),
            &req("upload", Some(x), &names, now),
        )
        .unwrap();
        assert_eq!(ok.pubkey, keys.public_key_hex());

        // Standard base64 with padding (what older clients send) works too.
        let std_b64 = format!(
            "Nostr {}",
            base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&event).unwrap())
        );
        check_header(Some(&std_b64), &req("upload", Some(x), &names, now)).unwrap();

        let refused = |e: &NostrEvent, r: AuthRequirement<'_>| {
            check_header(Some(&e.to_header()), &r).unwrap_err()
        };
        // Wrong verb, wrong x, expired, from the future.
        assert!(matches!(
            refused(&event, req("delete", Some(x), &names, now)),
            AuthError::Refused(_)
        ));
        assert!(matches!(
            refused(&event, req("upload", Some(&"0".repeat(64)), &names, now)),
            AuthError::Refused(_)
        ));
        assert!(matches!(
            refused(&event, req("upload", Some(x), &names, now + 601)),
            AuthError::Refused(_)
        ));
        let future = keys
            .authorize("upload", &[x], "Upload", now + 3600, 600)
            .unwrap();
        assert!(matches!(
            refused(&future, req("upload", Some(x), &names, now)),
            AuthError::Refused(_)
        ));
        // A changed tag breaks the id; a changed id (recomputed) breaks the signature.
        let mut forged = event.clone();
        forged.tags.push(vec!["x".into(), "1".repeat(64)]);
        assert_eq!(
            refused(&forged, req("upload", Some(x), &names, now)),
            AuthError::BadSignature("event id")
        );
        forged.id = hex::encode(NostrEvent::compute_id(
            &forged.pubkey,
            forged.created_at,
            forged.kind,
            &forged.tags,
            &forged.content,
        ));
        assert_eq!(
            refused(&forged, req("upload", Some(x), &names, now)),
            AuthError::BadSignature("signature")
        );
        // Someone else's pubkey on our signature.
        let mut other = event.clone();
        other.pubkey = NostrKeys::generate().unwrap().public_key_hex();
        other.id = hex::encode(NostrEvent::compute_id(
            &other.pubkey,
            other.created_at,
            other.kind,
            &other.tags,
            &other.content,
        ));
        assert!(matches!(
            refused(&other, req("upload", Some(x), &names, now)),
            AuthError::BadSignature(_)
        ));
        // A server tag must name us.
        let mut tags = event.tags.clone();
        tags.push(vec!["server".into(), "cdn.example.com".into()]);
        let scoped = keys
            .sign(AUTH_KIND, tags.clone(), "Upload", now - 5)
            .unwrap();
        assert!(matches!(
            refused(&scoped, req("upload", Some(x), &names, now)),
            AuthError::Refused(_)
        ));
        tags.push(vec!["server".into(), "http://127.0.0.1:8080/".into()]);
        let ours = keys.sign(AUTH_KIND, tags, "Upload", now - 5).unwrap();
        check_header(
            Some(&ours.to_header()),
            &req("upload", Some(x), &names, now),
        )
        .unwrap();
        // Not base64, not JSON, not Nostr, missing.
        assert!(matches!(
            check_header(Some("Nostr !!!"), &req("upload", None, &names, now)),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            check_header(Some("Nostr e30"), &req("upload", None, &names, now)),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(
            check_header(Some("Bearer x"), &req("upload", None, &names, now)),
            Err(AuthError::Missing)
        );
        assert_eq!(
            check_header(None, &req("upload", None, &names, now)),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let keys = NostrKeys::generate().unwrap();
        let shown = format!("{keys:?}");
        assert!(!shown.contains(&keys.secret_hex()));
        assert!(shown.contains(&keys.public_key_hex()));
        assert_eq!(
            NostrKeys::from_hex(&keys.secret_hex())
                .unwrap()
                .public_key_hex(),
            keys.public_key_hex()
        );
    }
}

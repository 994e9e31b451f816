//! Console accounts, pure: password hashing (argon2id), roles and their permissions, login tokens and the audit
//! chain's hash. No I/O, no clock (callers pass `now_ms`), no HTTP or database here (see docs/console.md). The only
//! thing taken from the outside world is randomness (salts, tokens, generated passwords) from the OS generator.
//!
//! - [`Role`] / [`Permission`]: the closed sets of docs/console.md; an unknown role name is an error, never a guess.
//! - [`hash_password`] / [`verify_password`]: argon2id, m = 19 MiB, t = 2, p = 1, PHC string with a random salt.
//! - [`check_password_policy`], [`validate_username`], [`generate_password`]: the account rules.
//! - [`new_token`], [`token_sha256`], [`constant_time_eq`]: login cookies and CSRF tokens (the store keeps only
//!   the sha256 of a cookie).
//! - [`LoginPolicy`]: lockout and login lifetimes.
//! - [`chain`]: the audit log's hash chain.
//!
//! Error messages never contain a password, a hash or a token.

pub mod chain;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Shortest and longest password accepted, in characters.
pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 256;
/// Longest username, in characters.
pub const USERNAME_MAX_CHARS: usize = 64;
/// Length of [`generate_password`]'s passwords.
pub const GENERATED_PASSWORD_CHARS: usize = 24;
/// argon2id cost: memory in KiB (19 MiB), iterations, lanes.
pub const ARGON2_M_KIB: u32 = 19 * 1024;
pub const ARGON2_T: u32 = 2;
pub const ARGON2_P: u32 = 1;

/// What can go wrong in this module. Messages are safe to show to the user who typed the input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("unknown role {0:?} (roles: reviewer, supervisor, qa, admin)")]
    UnknownRole(String),
    #[error("unknown permission {0:?}")]
    UnknownPermission(String),
    #[error("invalid username: {0}")]
    Username(&'static str),
    #[error("password too short: at least {PASSWORD_MIN_CHARS} characters")]
    PasswordTooShort,
    #[error("password too long: at most {PASSWORD_MAX_CHARS} characters")]
    PasswordTooLong,
    #[error("password contains a NUL character")]
    PasswordNul,
    /// The OS random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// argon2 refused its parameters or input (never the password itself in the message).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

// ---------------------------------------------------------------------------------------------------------------
// Roles and permissions

/// What a console user may do (docs/console.md, "Roles and permissions").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    QueueView,
    SessionView,
    RecordingView,
    Decide,
    DecideEscalated,
    Assign,
    Export,
    AuditView,
    UsersManage,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::QueueView,
        Permission::SessionView,
        Permission::RecordingView,
        Permission::Decide,
        Permission::DecideEscalated,
        Permission::Assign,
        Permission::Export,
        Permission::AuditView,
        Permission::UsersManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::QueueView => "queue.view",
            Permission::SessionView => "session.view",
            Permission::RecordingView => "recording.view",
            Permission::Decide => "decide",
            Permission::DecideEscalated => "decide.escalated",
            Permission::Assign => "assign",
            Permission::Export => "export",
            Permission::AuditView => "audit.view",
            Permission::UsersManage => "users.manage",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, AuthError> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| AuthError::UnknownPermission(short(s)))
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A console user's role. Closed set: the database's text is parsed with [`FromStr`] and refused when unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Reviewer,
    Supervisor,
    Qa,
    Admin,
}

const REVIEWER: &[Permission] =
    &[Permission::QueueView, Permission::SessionView, Permission::RecordingView, Permission::Decide];
const SUPERVISOR: &[Permission] = &[
    Permission::QueueView,
    Permission::SessionView,
    Permission::RecordingView,
    Permission::Decide,
    Permission::DecideEscalated,
    Permission::Assign,
    Permission::Export,
    Permission::AuditView,
];
const QA: &[Permission] = &[Permission::QueueView, Permission::SessionView, Permission::RecordingView];
/// An admin manages accounts and reads the audit log, but sees no applicant's session or recording.
const ADMIN: &[Permission] = &[Permission::AuditView, Permission::UsersManage];

impl Role {
    pub const ALL: [Role; 4] = [Role::Reviewer, Role::Supervisor, Role::Qa, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Supervisor => "supervisor",
            Role::Qa => "qa",
            Role::Admin => "admin",
        }
    }

    /// The role's permissions, in [`Permission::ALL`] order.
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Role::Reviewer => REVIEWER,
            Role::Supervisor => SUPERVISOR,
            Role::Qa => QA,
            Role::Admin => ADMIN,
        }
    }

    pub fn can(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, AuthError> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| AuthError::UnknownRole(short(s)))
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// At most 64 characters of `s`, for error messages about unknown names.
fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Passwords

fn argon2() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of `password`, with a fresh 16-byte
/// random salt. The password policy is not checked here (see [`check_password_policy`]).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| AuthError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    let hash = argon2()?.hash_password(password.as_bytes(), &salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc` (with the parameters recorded in it). `false` for a malformed
/// or non-argon2 hash; never panics.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return false;
    }
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// 12 to 256 characters (Unicode scalar values), no NUL.
pub fn check_password_policy(password: &str) -> Result<(), AuthError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(AuthError::PasswordTooShort);
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(AuthError::PasswordTooLong);
    }
    if password.contains('\0') {
        return Err(AuthError::PasswordNul);
    }
    Ok(())
}

/// 1 to 64 characters of `a-z 0-9 . _ -`.
pub fn validate_username(u: &str) -> Result<(), AuthError> {
    if u.is_empty() {
        return Err(AuthError::Username("empty"));
    }
    if u.chars().count() > USERNAME_MAX_CHARS {
        return Err(AuthError::Username("longer than 64 characters"));
    }
    if !u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)) {
        return Err(AuthError::Username("only a-z, 0-9, '.', '_' and '-' are allowed"));
    }
    Ok(())
}

/// Letters and digits without the look-alikes (0 O o 1 l I): 56 symbols, so 24 of them carry ~139 bits.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/// A random 24-character password from an unambiguous alphabet (no bias: rejection sampling).
pub fn generate_password() -> Result<String, AuthError> {
    let n = PASSWORD_ALPHABET.len();
    // The largest multiple of n below 256: bytes at or above it are dropped so each symbol is equally likely.
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(GENERATED_PASSWORD_CHARS);
    let mut buf = [0u8; 64];
    while out.len() < GENERATED_PASSWORD_CHARS {
        getrandom::fill(&mut buf).map_err(|_| AuthError::Random)?;
        for &b in &buf {
            if (b as usize) < limit && out.len() < GENERATED_PASSWORD_CHARS {
                out.push(PASSWORD_ALPHABET[b as usize % n] as char);
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens

/// 32 random bytes as 64 lowercase hex characters (login cookies, CSRF tokens).
pub fn new_token() -> Result<String, AuthError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|_| AuthError::Random)?;
    Ok(hex_string(&b))
}

/// sha256 of `token`'s UTF-8 bytes, lowercase hex.
pub fn token_sha256(token: &str) -> String {
    hex_string(&Sha256::digest(token.as_bytes()))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

pub(crate) fn hex_string(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

// ---------------------------------------------------------------------------------------------------------------
// Login policy

/// Lockout and login lifetimes (docs/console.md): 5 failures within 15 min lock the username for 15 min; a login
/// lasts 8 h, or 30 min without a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginPolicy {
    pub max_failures: u32,
    pub failure_window_ms: i64,
    pub lock_ms: i64,
    pub absolute_ms: i64,
    pub idle_ms: i64,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        const MIN: i64 = 60_000;
        LoginPolicy {
            max_failures: 5,
            failure_window_ms: 15 * MIN,
            lock_ms: 15 * MIN,
            absolute_ms: 8 * 60 * MIN,
            idle_ms: 30 * MIN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_permissions_follow_the_table() {
        use Permission::*;
        let table: [(Role, &[Permission]); 4] = [
            (Role::Reviewer, &[QueueView, SessionView, RecordingView, Decide]),
            (
                Role::Supervisor,
                &[QueueView, SessionView, RecordingView, Decide, DecideEscalated, Assign, Export, AuditView],
            ),
            (Role::Qa, &[QueueView, SessionView, RecordingView]),
            (Role::Admin, &[AuditView, UsersManage]),
        ];
        for (role, allowed) in table {
            for p in Permission::ALL {
                assert_eq!(role.can(p), allowed.contains(&p), "{role} {p}");
            }
            assert_eq!(role.permissions(), allowed);
        }
        assert!(!Role::Admin.can(RecordingView) && !Role::Admin.can(SessionView), "admins see no recordings");
        assert!(!Role::Qa.can(Decide));
        assert!(!Role::Reviewer.can(DecideEscalated) && !Role::Reviewer.can(Export));
    }

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(serde_json::from_value::<Role>(serde_json::json!(r.as_str())).unwrap(), r);
        }
        let names: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "queue.view",
                "session.view",
                "recording.view",
                "decide",
                "decide.escalated",
                "assign",
                "export",
                "audit.view",
                "users.manage"
            ]
        );
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        for bad in ["Admin", "root", "", " admin", "reviewer\0"] {
            assert!(matches!(bad.parse::<Role>(), Err(AuthError::UnknownRole(_))), "{bad:?}");
        }
        assert!(serde_json::from_value::<Role>(serde_json::json!("superuser")).is_err());
        assert!("decide.all".parse::<Permission>().is_err());
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterY", &phc));
        assert!(!verify_password("", &phc));
        // A fresh salt each time.
        let again = hash_password("correct horse battery").unwrap();
        assert_ne!(phc, again);
        assert!(verify_password("correct horse battery", &again));
        // Malformed or foreign hashes: false, no panic.
        for bad in
            ["", "plain", "$argon2id$", "$argon2id$v=19$m=19456,t=2,p=1$zz$zz", "$5$rounds=1$abc$def", &phc[..20]]
        {
            assert!(!verify_password("correct horse battery", bad), "{bad:?}");
        }
        // Unicode passwords work.
        let uni = hash_password("Пароль-ü-密码-1234").unwrap();
        assert!(verify_password("Пароль-ü-密码-1234", &uni));
    }

    #[test]
    fn password_policy_counts_characters() {
        assert_eq!(check_password_policy("elevenchars"), Err(AuthError::PasswordTooShort));
        assert!(check_password_policy("twelve chars").is_ok());
        assert!(check_password_policy(&"ä".repeat(12)).is_ok(), "characters, not bytes");
        assert!(check_password_policy(&"x".repeat(256)).is_ok());
        assert_eq!(check_password_policy(&"x".repeat(257)), Err(AuthError::PasswordTooLong));
        assert_eq!(check_password_policy("with a nul \0 inside"), Err(AuthError::PasswordNul));
        let text = check_password_policy("short").unwrap_err().to_string();
        assert!(text.contains("12") && !text.contains("short\""), "{text}");
    }

    #[test]
    fn usernames_are_lowercase_ascii() {
        for ok in ["admin", "a", "j.doe", "rev_1", "qa-team", &"x".repeat(64)] {
            assert!(validate_username(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", "Admin", "j doe", "ü", "a/b", "a@b", "x\0", &"x".repeat(65), "tab\t"] {
            assert!(matches!(validate_username(bad), Err(AuthError::Username(_))), "{bad:?}");
        }
    }

    #[test]
    fn generated_passwords_are_long_unambiguous_and_different() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let p = generate_password().unwrap();
            assert_eq!(p.chars().count(), GENERATED_PASSWORD_CHARS);
            assert!(p.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)), "{p}");
            assert!(!p.contains(['0', 'O', 'o', '1', 'l', 'I']), "{p}");
            assert!(check_password_policy(&p).is_ok());
            assert!(seen.insert(p), "repeated password");
        }
        assert_eq!(PASSWORD_ALPHABET.len(), 56);
    }

    #[test]
    fn tokens_are_64_hex_and_hash_to_sha256() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{a}");
        assert_ne!(a, b);
        assert_eq!(token_sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_ne!(token_sha256(&a), a);
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"same!"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn login_policy_defaults() {
        let p = LoginPolicy::default();
        assert_eq!(
            (p.max_failures, p.failure_window_ms, p.lock_ms, p.absolute_ms, p.idle_ms),
            (5, 900_000, 900_000, 28_800_000, 1_800_000)
        );
    }
}

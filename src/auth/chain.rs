//! The audit log's hash chain (docs/console.md, "Audit log"): each entry's hash is
//! `sha256(prev_hash ‖ canonical JSON of {seq, t_ms, actor, action, session_id, detail})` in lowercase hex, where
//! `prev_hash` is the previous entry's hash as its 64 hex characters (the first entry's is [`GENESIS`]).
//!
//! Canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace, strings escaped as serde_json writes
//! them, numbers as serde_json writes them (integers exactly; floats in their shortest round-trip form). Pure.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `v` as canonical JSON: keys sorted at every level, no whitespace.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        // null, booleans and numbers have one form in serde_json's compact writer.
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push_str(&Value::String(s.to_owned()).to_string());
}

/// The hash of one entry, chained to `prev_hash`.
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    t_ms: i64,
    actor: &str,
    action: &str,
    session_id: Option<&str>,
    detail: &Value,
) -> String {
    let body = serde_json::json!({
        "seq": seq,
        "t_ms": t_ms,
        "actor": actor,
        "action": action,
        "session_id": session_id,
        "detail": detail,
    });
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical_json(&body).as_bytes());
    super::hex_string(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_everywhere_and_has_no_whitespace() {
        let v = json!({"b": 1, "a": {"z": [3, {"y": null, "x": true}], "m": "t\"e\nx"}, "A": -2.5});
        assert_eq!(canonical_json(&v), r#"{"A":-2.5,"a":{"m":"t\"e\nx","z":[3,{"x":true,"y":null}]},"b":1}"#);
        assert_eq!(canonical_json(&json!("ü")), "\"ü\"");
        assert_eq!(canonical_json(&json!([])), "[]");
        assert_eq!(canonical_json(&json!({})), "{}");
        assert_eq!(canonical_json(&json!(u64::MAX)), "18446744073709551615");
        // Parsing the canonical text gives the same canonical text (what the verifier relies on).
        let text = canonical_json(&v);
        assert_eq!(canonical_json(&serde_json::from_str(&text).unwrap()), text);
        let f = json!({"x": 0.1 + 0.2, "y": 1e-7, "z": 12345678.9});
        let text = canonical_json(&f);
        assert_eq!(canonical_json(&serde_json::from_str(&text).unwrap()), text);
    }

    #[test]
    fn entry_hash_is_sha256_of_prev_and_canonical_body() {
        let detail = json!({"username": "ann", "role": "reviewer"});
        let h = entry_hash(GENESIS, 1, 1_700_000_000_000, "cli:root", "user.add", None, &detail);
        let body = r#"{"action":"user.add","actor":"cli:root","detail":{"role":"reviewer","username":"ann"},"seq":1,"session_id":null,"t_ms":1700000000000}"#;
        let expected = super::super::hex_string(&Sha256::digest(format!("{GENESIS}{body}").as_bytes()));
        assert_eq!(h, expected);
        assert_eq!(h.len(), 64);
        assert_eq!(GENESIS.len(), 64);
        // Every field is covered.
        let variants = [
            entry_hash(&h, 1, 1_700_000_000_000, "cli:root", "user.add", None, &detail),
            entry_hash(GENESIS, 2, 1_700_000_000_000, "cli:root", "user.add", None, &detail),
            entry_hash(GENESIS, 1, 1_700_000_000_001, "cli:root", "user.add", None, &detail),
            entry_hash(GENESIS, 1, 1_700_000_000_000, "cli:ann", "user.add", None, &detail),
            entry_hash(GENESIS, 1, 1_700_000_000_000, "cli:root", "user.role", None, &detail),
            entry_hash(GENESIS, 1, 1_700_000_000_000, "cli:root", "user.add", Some("s_1"), &detail),
            entry_hash(GENESIS, 1, 1_700_000_000_000, "cli:root", "user.add", None, &json!({"username": "ann"})),
        ];
        for v in &variants {
            assert_ne!(v, &h);
        }
        // Key order of the detail does not matter.
        let reordered: Value = serde_json::from_str(r#"{"role":"reviewer","username":"ann"}"#).unwrap();
        assert_eq!(entry_hash(GENESIS, 1, 1_700_000_000_000, "cli:root", "user.add", None, &reordered), h);
    }
}

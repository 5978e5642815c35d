//! Credential lineage: which access key was issued by which call made with which key.
//!
//! Temporary keys (`ASIA...`) first appear in `responseElements.credentials.accessKeyId` of the
//! STS call that issued them; new long-term keys (`AKIA...`) in
//! `responseElements.accessKey.accessKeyId` of `CreateAccessKey`. Linking the two traces a
//! session back to the credential that created it, across role chains and accounts.

use ahash::AHashMap;
use serde::Serialize;
use trailscope_indicators::{eq, or, Predicate};
use trailscope_store::{Field, Store};

/// How a key came to exist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Issuance {
    /// The key issued.
    pub key: String,
    /// The key that made the issuing call, if the caller used one.
    pub parent_key: Option<String>,
    /// The principal that made the call.
    pub parent_principal: Option<String>,
    /// The call (`AssumeRole`, `CreateAccessKey`, ...).
    pub via: String,
    /// Row of the issuing event.
    pub row: usize,
    /// For STS: the ARN of the session the key belongs to; for CreateAccessKey: the user name.
    pub subject: Option<String>,
}

/// Every issuance seen in the evidence, by issued key, with an index by issuing key so that
/// following a credential's children costs its children, not every issuance.
#[derive(Clone, Debug, Default)]
pub struct Lineage {
    by_key: AHashMap<String, Issuance>,
    by_parent: AHashMap<String, Vec<String>>,
}

/// STS calls that return credentials.
pub const ISSUING_CALLS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetSessionToken",
    "GetFederationToken",
    "AssumeRoot",
    "CreateAccessKey",
    "GetRoleCredentials",
];

impl Lineage {
    /// Scan the store for credential-issuing calls.
    pub fn build(store: &Store) -> Self {
        let expr = or(vec![eq("eventName", ISSUING_CALLS)]);
        let rows = Predicate::compile(&expr, store).eval_store(store);
        let mut by_key = AHashMap::new();
        for row in rows.iter() {
            let e = store.event(row);
            let f = e.fields();
            let (key, subject) = if e.str(Field::EventName) == Some("CreateAccessKey") {
                (f.get_str("responseElements.accessKey.accessKeyId"), f.get_str("responseElements.accessKey.userName"))
            } else if e.str(Field::EventName) == Some("GetRoleCredentials") {
                (f.get_str("responseElements.roleCredentials.accessKeyId"), None)
            } else {
                (
                    f.get_str("responseElements.credentials.accessKeyId"),
                    f.get_str("responseElements.assumedRoleUser.arn")
                        .or_else(|| f.get_str("responseElements.federatedUser.arn")),
                )
            };
            let Some(key) = key else { continue };
            // Cross-account calls are logged twice; keep the copy that names the caller's key.
            let parent_key = e.str(Field::AccessKeyId).map(str::to_owned);
            let entry = Issuance {
                key: key.clone(),
                parent_key,
                parent_principal: e.str(Field::PrincipalArn).map(str::to_owned),
                via: e.str(Field::EventName).unwrap_or_default().to_owned(),
                row,
                subject,
            };
            match by_key.get(&key) {
                Some(Issuance { parent_key: Some(_), .. }) => {}
                _ => {
                    by_key.insert(key, entry);
                }
            }
        }
        let mut by_parent: AHashMap<String, Vec<String>> = AHashMap::new();
        for i in by_key.values() {
            if let Some(p) = &i.parent_key {
                by_parent.entry(p.clone()).or_default().push(i.key.clone());
            }
        }
        for kids in by_parent.values_mut() {
            kids.sort_by_key(|k| by_key[k].row);
        }
        Lineage { by_key, by_parent }
    }

    /// How `key` was issued, if the evidence shows it.
    pub fn issuance(&self, key: &str) -> Option<&Issuance> {
        self.by_key.get(key)
    }

    /// Keys issued (directly) by calls made with `key`, oldest issuance first.
    pub fn children<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a Issuance> + 'a {
        self.by_parent.get(key).into_iter().flatten().map(|k| &self.by_key[k])
    }

    /// The credential a key ultimately derives from: the key that made the oldest issuing call
    /// in its chain (a long-term key, or a session whose own issuance is not in the evidence),
    /// with the principal that made that call. `None` when the evidence shows no issuance.
    pub fn origin(&self, key: &str) -> Option<(&str, Option<&str>)> {
        let oldest = *self.ancestry(key).last()?;
        Some(match &oldest.parent_key {
            Some(p) => (p.as_str(), oldest.parent_principal.as_deref()),
            None => (oldest.key.as_str(), oldest.subject.as_deref()),
        })
    }

    /// The chain from `key` back to the oldest known ancestor (`key` first).
    pub fn ancestry(&self, key: &str) -> Vec<&Issuance> {
        let mut out = Vec::new();
        let mut cur = key.to_owned();
        while let Some(i) = self.by_key.get(&cur) {
            if out.iter().any(|o: &&Issuance| o.key == i.key) {
                break; // a loop would mean corrupt evidence; stop rather than spin
            }
            out.push(i);
            match &i.parent_key {
                Some(p) => cur = p.clone(),
                None => break,
            }
        }
        out
    }

    /// Number of issuances known.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// True when no issuance is known.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

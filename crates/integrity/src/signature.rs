//! SHA256withRSA signature checks against keys saved from `aws cloudtrail list-public-keys`.

use std::collections::HashMap;

use base64::Engine;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};

/// Public keys by fingerprint.
#[derive(Clone, Debug, Default)]
pub struct PublicKeys {
    keys: HashMap<String, RsaPublicKey>,
}

impl PublicKeys {
    /// Read `list-public-keys` output: `{"PublicKeyList": [{"Value": base64, "Fingerprint": hex}]}`.
    /// `Value` is DER, PKCS#1 as documented, or X.509 SubjectPublicKeyInfo (both are seen).
    ///
    /// # Errors
    /// A message naming the key that could not be read.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let list = v["PublicKeyList"].as_array().ok_or("no PublicKeyList array")?;
        let mut keys = HashMap::new();
        for (i, k) in list.iter().enumerate() {
            let fp = k["Fingerprint"].as_str().ok_or(format!("key {i}: no Fingerprint"))?;
            let value = k["Value"].as_str().ok_or(format!("key {i}: no Value"))?;
            let der = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|e| format!("key {i}: Value is not base64: {e}"))?;
            let key = RsaPublicKey::from_pkcs1_der(&der)
                .or_else(|_| RsaPublicKey::from_public_key_der(&der))
                .map_err(|e| format!("key {i} ({fp}): not an RSA public key: {e}"))?;
            keys.insert(fp.to_ascii_lowercase(), key);
        }
        Ok(PublicKeys { keys })
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key was loaded.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verify a hex signature over `message` with the key of `fingerprint`.
    ///
    /// # Errors
    /// Why it does not verify: unknown key, bad hex, or a wrong signature.
    pub fn verify(&self, fingerprint: &str, message: &str, signature_hex: &str) -> Result<(), String> {
        let key = self
            .keys
            .get(&fingerprint.to_ascii_lowercase())
            .ok_or_else(|| format!("no public key with fingerprint {fingerprint}"))?;
        let sig = hex::decode(signature_hex.trim()).map_err(|e| format!("signature is not hex: {e}"))?;
        key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message.as_bytes()), &sig)
            .map_err(|_| "signature does not match".to_owned())
    }
}

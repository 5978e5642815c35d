//! The simulated organisation: accounts, regions, people, roles and services, and the record
//! builder that turns "who did what when" into a CloudTrail record.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

/// Production account (the victim).
pub const PROD: &str = "123456789012";
/// Data account (reached by role assumption).
pub const DATA: &str = "210987654321";
/// Development account.
pub const DEV: &str = "345678901234";

/// Regions with their share of regional traffic.
pub const REGIONS: &[(&str, f64)] =
    &[("us-east-1", 0.55), ("us-west-2", 0.2), ("eu-west-1", 0.18), ("ap-southeast-2", 0.07)];

/// Services whose calls are logged in us-east-1 whatever the caller's region.
pub fn is_global(source: &str) -> bool {
    matches!(
        source,
        "iam.amazonaws.com" | "organizations.amazonaws.com" | "route53.amazonaws.com" | "health.amazonaws.com"
    )
}

/// How a principal shows up in `userIdentity`.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// An IAM user with a long-term key.
    IamUser,
    /// A role session (`AssumedRole`), with the role's ARN and name.
    AssumedRole {
        /// The role's ARN.
        role_arn: String,
        /// The role's name.
        role_name: String,
        /// The role's `AROA...` id.
        role_id: String,
        /// The session name.
        session: String,
    },
    /// The account root user.
    Root,
    /// An AWS service acting on its own (`AWSService`).
    Service(String),
    /// A federated user session (`FederatedUser`).
    Federated {
        /// The IAM user that called GetFederationToken.
        user_arn: String,
    },
}

/// A principal and how it behaves.
#[derive(Clone, Debug)]
pub struct Actor {
    /// userIdentity form.
    pub kind: Kind,
    /// Account the principal belongs to.
    pub account: String,
    /// Principal ARN.
    pub arn: String,
    /// `principalId`.
    pub principal_id: String,
    /// Access key id (`AKIA...` for users, `ASIA...` for sessions).
    pub access_key: String,
    /// IAM user name (users only).
    pub user_name: Option<String>,
    /// Source IPs it calls from.
    pub ips: Vec<String>,
    /// Its user agent.
    pub user_agent: String,
    /// Whether its session is MFA-backed.
    pub mfa: bool,
    /// Relative share of background traffic.
    pub weight: f64,
    /// Services it mostly works with (empty: anything).
    pub focus: Vec<&'static str>,
}

/// Random helpers over the generator's seeded RNG.
pub trait RngExt2 {
    /// `n` characters from `alphabet`.
    fn chars(&mut self, n: usize, alphabet: &[u8]) -> String;
    /// A version-4 UUID.
    fn uuid(&mut self) -> String;
    /// An upper-case alphanumeric id of `n` characters.
    fn upper(&mut self, n: usize) -> String;
    /// A lower-case hex id of `n` characters.
    fn hexid(&mut self, n: usize) -> String;
}

impl RngExt2 for ChaCha8Rng {
    fn chars(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n).map(|_| alphabet[self.random_range(0..alphabet.len())] as char).collect()
    }
    fn uuid(&mut self) -> String {
        let h = self.hexid(32);
        format!(
            "{}-{}-4{}-{}{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            ["8", "9", "a", "b"][self.random_range(0..4)],
            &h[17..20],
            &h[20..32]
        )
    }
    fn upper(&mut self, n: usize) -> String {
        self.chars(n, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    }
    fn hexid(&mut self, n: usize) -> String {
        self.chars(n, b"0123456789abcdef")
    }
}

/// Long-term key id.
pub fn akia(rng: &mut ChaCha8Rng) -> String {
    format!("AKIA{}", rng.upper(16))
}

/// Temporary key id.
pub fn asia(rng: &mut ChaCha8Rng) -> String {
    format!("ASIA{}", rng.upper(16))
}

/// An IAM user.
pub fn user(
    rng: &mut ChaCha8Rng,
    account: &str,
    name: &str,
    ips: &[&str],
    ua: &str,
    weight: f64,
    focus: &[&'static str],
) -> Actor {
    Actor {
        kind: Kind::IamUser,
        account: account.into(),
        arn: format!("arn:aws:iam::{account}:user/{name}"),
        principal_id: format!("AIDA{}", rng.upper(17)),
        access_key: akia(rng),
        user_name: Some(name.into()),
        ips: ips.iter().map(|s| s.to_string()).collect(),
        user_agent: ua.into(),
        mfa: false,
        weight,
        focus: focus.to_vec(),
    }
}

/// A role session.
#[allow(clippy::too_many_arguments)]
pub fn role_session(
    rng: &mut ChaCha8Rng,
    account: &str,
    role: &str,
    session: &str,
    ips: &[&str],
    ua: &str,
    weight: f64,
    focus: &[&'static str],
) -> Actor {
    let role_id = format!("AROA{}", rng.upper(17));
    Actor {
        kind: Kind::AssumedRole {
            role_arn: format!("arn:aws:iam::{account}:role/{role}"),
            role_name: role.into(),
            role_id: role_id.clone(),
            session: session.into(),
        },
        account: account.into(),
        arn: format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
        principal_id: format!("{role_id}:{session}"),
        access_key: asia(rng),
        user_name: None,
        ips: ips.iter().map(|s| s.to_string()).collect(),
        user_agent: ua.into(),
        mfa: false,
        weight,
        focus: focus.to_vec(),
    }
}

/// Builds records with consistent ids.
pub struct Recorder<'r> {
    /// The seeded RNG.
    pub rng: &'r mut ChaCha8Rng,
}

/// What one call looked like.
pub struct CallSpec<'a> {
    /// `eventSource`.
    pub source: &'a str,
    /// `eventName`.
    pub name: &'a str,
    /// `readOnly`.
    pub read_only: bool,
    /// Region (global services are forced to us-east-1 by the caller).
    pub region: &'a str,
    /// `requestParameters`.
    pub request: Value,
    /// `responseElements`.
    pub response: Value,
    /// `errorCode` and `errorMessage`.
    pub error: Option<(String, String)>,
    /// S3 data event with these resources.
    pub data_resources: Option<Value>,
    /// `additionalEventData`.
    pub additional: Option<Value>,
    /// Account whose trail records the event (defaults to the actor's).
    pub recipient: Option<String>,
    /// `sharedEventID` for cross-account calls.
    pub shared_event_id: Option<String>,
    /// `eventType` (defaults to `AwsApiCall`).
    pub event_type: Option<&'a str>,
    /// Made from the console with console session credentials (`sessionCredentialFromConsole`).
    pub console: bool,
}

impl<'a> CallSpec<'a> {
    /// A successful API call with no parameters.
    pub fn new(source: &'a str, name: &'a str, region: &'a str) -> Self {
        CallSpec {
            source,
            name,
            read_only: crate::catalog::is_read_only(name),
            region,
            request: Value::Null,
            response: Value::Null,
            error: None,
            data_resources: None,
            additional: None,
            recipient: None,
            shared_event_id: None,
            event_type: None,
            console: false,
        }
    }
    /// An S3 object-level (data) event: `key` empty for bucket-level reads such as ListObjects.
    pub fn s3_data(name: &'a str, bucket: &str, key: &str, region: &'a str, account: &str, bytes_out: u64) -> Self {
        let mut call = CallSpec::new("s3.amazonaws.com", name, region)
            .req(json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "key": key}));
        let arn =
            if key.is_empty() { format!("arn:aws:s3:::{bucket}") } else { format!("arn:aws:s3:::{bucket}/{key}") };
        call.data_resources = Some(
            json!([{"type": "AWS::S3::Object", "ARN": arn}, {"accountId": account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}]),
        );
        call.additional = Some(
            json!({"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader", "bytesTransferredOut": bytes_out}),
        );
        call.read_only = true;
        call
    }
    /// Mark it as made from the console.
    pub fn console(mut self) -> Self {
        self.console = true;
        self
    }
    /// Set `requestParameters`.
    pub fn req(mut self, v: Value) -> Self {
        self.request = v;
        self
    }
    /// Set `responseElements`.
    pub fn resp(mut self, v: Value) -> Self {
        self.response = v;
        self
    }
    /// Make it fail.
    pub fn fail(mut self, code: &str, message: String) -> Self {
        self.error = Some((code.into(), message));
        self.response = Value::Null;
        self
    }
}

impl Recorder<'_> {
    /// The `userIdentity` object of an actor.
    pub fn identity(&mut self, a: &Actor, time_iso: &str) -> Value {
        match &a.kind {
            Kind::IamUser => json!({
                "type": "IAMUser", "principalId": a.principal_id, "arn": a.arn, "accountId": a.account,
                "accessKeyId": a.access_key, "userName": a.user_name,
                "sessionContext": if a.mfa { json!({"attributes": {"creationDate": time_iso, "mfaAuthenticated": "true"}}) } else { Value::Null },
            }),
            Kind::AssumedRole { role_arn, role_name, role_id, .. } => json!({
                "type": "AssumedRole", "principalId": a.principal_id, "arn": a.arn, "accountId": a.account,
                "accessKeyId": a.access_key,
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn, "accountId": a.account, "userName": role_name},
                    "webIdFederationData": {},
                    "attributes": {"creationDate": time_iso, "mfaAuthenticated": if a.mfa { "true" } else { "false" }}
                }
            }),
            Kind::Root => json!({
                "type": "Root", "principalId": a.account, "arn": a.arn, "accountId": a.account, "accessKeyId": a.access_key,
                "sessionContext": {"attributes": {"creationDate": time_iso, "mfaAuthenticated": if a.mfa { "true" } else { "false" }}}
            }),
            Kind::Service(svc) => json!({"type": "AWSService", "invokedBy": svc}),
            Kind::Federated { user_arn } => json!({
                "type": "FederatedUser", "principalId": a.principal_id, "arn": a.arn, "accountId": a.account,
                "accessKeyId": a.access_key,
                "sessionContext": {"sessionIssuer": {"type": "IAMUser", "principalId": a.principal_id.split(':').next().unwrap_or(""), "arn": user_arn, "accountId": a.account, "userName": user_arn.rsplit('/').next().unwrap_or("")},
                    "attributes": {"creationDate": time_iso, "mfaAuthenticated": "false"}}
            }),
        }
    }

    /// One CloudTrail record.
    pub fn record(&mut self, a: &Actor, time_ms: i64, call: CallSpec<'_>) -> Value {
        let time = trailscope_store::chrono_free_iso(time_ms / 1000 * 1000);
        let mut r = Map::new();
        r.insert("eventVersion".into(), json!(if call.data_resources.is_some() { "1.09" } else { "1.08" }));
        r.insert("userIdentity".into(), self.identity(a, &time));
        r.insert("eventTime".into(), json!(time));
        r.insert("eventSource".into(), json!(call.source));
        r.insert("eventName".into(), json!(call.name));
        r.insert("awsRegion".into(), json!(call.region));
        let ip = match &a.kind {
            Kind::Service(svc) => svc.clone(),
            _ => a.ips[self.rng.random_range(0..a.ips.len())].clone(),
        };
        r.insert("sourceIPAddress".into(), json!(ip));
        let ua = match &a.kind {
            Kind::Service(svc) => svc.clone(),
            _ => a.user_agent.clone(),
        };
        r.insert("userAgent".into(), json!(ua));
        if let Some((code, msg)) = &call.error {
            r.insert("errorCode".into(), json!(code));
            r.insert("errorMessage".into(), json!(msg));
        }
        r.insert("requestParameters".into(), call.request);
        r.insert("responseElements".into(), call.response);
        if let Some(add) = call.additional {
            r.insert("additionalEventData".into(), add);
        }
        r.insert(
            "requestID".into(),
            json!(if call.source == "s3.amazonaws.com" { self.rng.upper(16) } else { self.rng.uuid() }),
        );
        r.insert("eventID".into(), json!(self.rng.uuid()));
        r.insert("readOnly".into(), json!(call.read_only));
        let data = call.data_resources.is_some();
        if let Some(res) = call.data_resources {
            r.insert("resources".into(), res);
        }
        r.insert("eventType".into(), json!(call.event_type.unwrap_or("AwsApiCall")));
        r.insert("managementEvent".into(), json!(!data));
        let recipient = call.recipient.unwrap_or_else(|| a.account.clone());
        r.insert("recipientAccountId".into(), json!(recipient));
        if let Some(shared) = call.shared_event_id {
            r.insert("sharedEventID".into(), json!(shared));
        }
        r.insert("eventCategory".into(), json!(if data { "Data" } else { "Management" }));
        if !matches!(a.kind, Kind::Service(_)) {
            let host = if is_global(call.source) {
                call.source.to_string()
            } else {
                call.source.replace(".amazonaws.com", &format!(".{}.amazonaws.com", call.region))
            };
            r.insert(
                "tlsDetails".into(),
                json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}),
            );
        }
        if call.console {
            r.insert("sessionCredentialFromConsole".into(), json!("true"));
        }
        Value::Object(r)
    }
}

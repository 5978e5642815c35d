//! The fixed columns of the store and the CloudTrail JSON path each one holds.

/// A string field kept as its own dictionary-encoded column.
///
/// Every other field of a record stays retrievable through the record's compact payload
/// (see [`crate::Store::get_path`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `eventVersion`
    EventVersion,
    /// `eventSource`, e.g. `iam.amazonaws.com`
    EventSource,
    /// `eventName`, e.g. `CreateAccessKey`
    EventName,
    /// `awsRegion`
    AwsRegion,
    /// `eventType`, e.g. `AwsApiCall`, `AwsConsoleSignIn`, `AwsCloudTrailInsight`
    EventType,
    /// `eventCategory`: `Management`, `Data`, `Insight`, `NetworkActivity`
    EventCategory,
    /// `userIdentity.type`: `Root`, `IAMUser`, `AssumedRole`, ...
    IdentityType,
    /// `userIdentity.arn`: the principal ARN
    PrincipalArn,
    /// `userIdentity.principalId`
    PrincipalId,
    /// `userIdentity.accountId`: the caller's account
    IdentityAccount,
    /// `userIdentity.accessKeyId`
    AccessKeyId,
    /// `userIdentity.userName`
    UserName,
    /// `userIdentity.invokedBy`: the service that made the call for the principal
    InvokedBy,
    /// `userIdentity.sessionContext.sessionIssuer.arn`: the role behind an assumed-role session
    SessionIssuerArn,
    /// `recipientAccountId`: the account whose trail logged the event
    RecipientAccount,
    /// `sourceIPAddress`: an IP, a service name, or `AWS Internal`
    SourceIp,
    /// `userAgent`
    UserAgent,
    /// `errorCode`; null when the call succeeded
    ErrorCode,
    /// `errorMessage`
    ErrorMessage,
    /// `eventID`
    EventId,
    /// `requestID`
    RequestId,
    /// `sharedEventID`: links the copies of a cross-account event
    SharedEventId,
    /// `vpcEndpointId`
    VpcEndpointId,
    /// `tlsDetails.tlsVersion`
    TlsVersion,
    /// `tlsDetails.cipherSuite`
    CipherSuite,
    /// `tlsDetails.clientProvidedHostHeader`: the endpoint the client called
    TlsHost,
}

impl Field {
    /// Every string column, in storage order.
    pub const ALL: [Field; 26] = [
        Field::EventVersion,
        Field::EventSource,
        Field::EventName,
        Field::AwsRegion,
        Field::EventType,
        Field::EventCategory,
        Field::IdentityType,
        Field::PrincipalArn,
        Field::PrincipalId,
        Field::IdentityAccount,
        Field::AccessKeyId,
        Field::UserName,
        Field::InvokedBy,
        Field::SessionIssuerArn,
        Field::RecipientAccount,
        Field::SourceIp,
        Field::UserAgent,
        Field::ErrorCode,
        Field::ErrorMessage,
        Field::EventId,
        Field::RequestId,
        Field::SharedEventId,
        Field::VpcEndpointId,
        Field::TlsVersion,
        Field::CipherSuite,
        Field::TlsHost,
    ];

    /// Number of string columns.
    pub const COUNT: usize = Field::ALL.len();

    /// Position of this field in [`Field::ALL`].
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// Columns whose values are (nearly) all distinct: stored without de-duplication or hash
    /// index (see [`crate::Dict::push_unindexed`]), which would cost more than they save.
    pub fn is_unique(self) -> bool {
        matches!(self, Field::RequestId)
    }

    /// The dotted CloudTrail path the column holds.
    pub fn path(self) -> &'static str {
        match self {
            Field::EventVersion => "eventVersion",
            Field::EventSource => "eventSource",
            Field::EventName => "eventName",
            Field::AwsRegion => "awsRegion",
            Field::EventType => "eventType",
            Field::EventCategory => "eventCategory",
            Field::IdentityType => "userIdentity.type",
            Field::PrincipalArn => "userIdentity.arn",
            Field::PrincipalId => "userIdentity.principalId",
            Field::IdentityAccount => "userIdentity.accountId",
            Field::AccessKeyId => "userIdentity.accessKeyId",
            Field::UserName => "userIdentity.userName",
            Field::InvokedBy => "userIdentity.invokedBy",
            Field::SessionIssuerArn => "userIdentity.sessionContext.sessionIssuer.arn",
            Field::RecipientAccount => "recipientAccountId",
            Field::SourceIp => "sourceIPAddress",
            Field::UserAgent => "userAgent",
            Field::ErrorCode => "errorCode",
            Field::ErrorMessage => "errorMessage",
            Field::EventId => "eventID",
            Field::RequestId => "requestID",
            Field::SharedEventId => "sharedEventID",
            Field::VpcEndpointId => "vpcEndpointId",
            Field::TlsVersion => "tlsDetails.tlsVersion",
            Field::CipherSuite => "tlsDetails.cipherSuite",
            Field::TlsHost => "tlsDetails.clientProvidedHostHeader",
        }
    }

    /// The column holding a dotted path, if one does.
    pub fn from_path(path: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.path() == path)
    }

    /// For a top-level record key: the column that holds it whole (so the payload omits it).
    pub fn from_top_key(key: &str) -> Option<Field> {
        // A match, not a scan of `ALL`: this runs for every key of every record.
        Some(match key {
            "eventVersion" => Field::EventVersion,
            "eventSource" => Field::EventSource,
            "eventName" => Field::EventName,
            "awsRegion" => Field::AwsRegion,
            "eventType" => Field::EventType,
            "eventCategory" => Field::EventCategory,
            "recipientAccountId" => Field::RecipientAccount,
            "sourceIPAddress" => Field::SourceIp,
            "userAgent" => Field::UserAgent,
            "errorCode" => Field::ErrorCode,
            "errorMessage" => Field::ErrorMessage,
            "eventID" => Field::EventId,
            "requestID" => Field::RequestId,
            "sharedEventID" => Field::SharedEventId,
            "vpcEndpointId" => Field::VpcEndpointId,
            _ => return None,
        })
    }

    /// For a key directly under `tlsDetails`: the column that holds it. `tlsDetails` repeats
    /// across events (a handful of distinct values), so columns hold it far more compactly than
    /// the payload would.
    pub fn from_tls_key(key: &str) -> Option<Field> {
        match key {
            "tlsVersion" => Some(Field::TlsVersion),
            "cipherSuite" => Some(Field::CipherSuite),
            "clientProvidedHostHeader" => Some(Field::TlsHost),
            _ => None,
        }
    }

    /// For a key directly under `userIdentity`: the column that holds it.
    pub fn from_identity_key(key: &str) -> Option<Field> {
        match key {
            "type" => Some(Field::IdentityType),
            "arn" => Some(Field::PrincipalArn),
            "principalId" => Some(Field::PrincipalId),
            "accountId" => Some(Field::IdentityAccount),
            "accessKeyId" => Some(Field::AccessKeyId),
            "userName" => Some(Field::UserName),
            "invokedBy" => Some(Field::InvokedBy),
            _ => None,
        }
    }
}

/// A tri-state boolean field (`true`, `false`, absent).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `readOnly`
    ReadOnly,
    /// `managementEvent`
    ManagementEvent,
    /// Whether MFA backed the call: `userIdentity.sessionContext.attributes.mfaAuthenticated`,
    /// or for a console sign-in `additionalEventData.MFAUsed` (`Yes`/`No`).
    Mfa,
}

impl Flag {
    /// Every flag column, in storage order.
    pub const ALL: [Flag; 3] = [Flag::ReadOnly, Flag::ManagementEvent, Flag::Mfa];

    /// Position in [`Flag::ALL`].
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The flag whose column alone holds the value at `path`: `readOnly` and `managementEvent`
    /// are not kept in the payload. (The MFA flag is derived for speed; its session attribute
    /// stays in the payload, where path tests read it.)
    pub fn column_only(path: &str) -> Option<Flag> {
        [Flag::ReadOnly, Flag::ManagementEvent].into_iter().find(|f| f.path() == path)
    }

    /// The dotted path (for `Mfa`, the session attribute; see the variant doc).
    pub fn path(self) -> &'static str {
        match self {
            Flag::ReadOnly => "readOnly",
            Flag::ManagementEvent => "managementEvent",
            Flag::Mfa => "userIdentity.sessionContext.attributes.mfaAuthenticated",
        }
    }
}

/// Tri-state value stored per event for a [`Flag`]: 0 absent, 1 false, 2 true.
pub fn flag_code(v: Option<bool>) -> u8 {
    match v {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    }
}

/// Inverse of [`flag_code`].
pub fn flag_value(code: u8) -> Option<bool> {
    match code {
        1 => Some(false),
        2 => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_and_indexes_match_order() {
        for (i, f) in Field::ALL.into_iter().enumerate() {
            assert_eq!(f.index(), i);
            assert_eq!(Field::from_path(f.path()), Some(f));
        }
        assert_eq!(Field::from_top_key("eventName"), Some(Field::EventName));
        assert_eq!(Field::from_top_key("userIdentity"), None);
        assert_eq!(Field::from_identity_key("accessKeyId"), Some(Field::AccessKeyId));
        assert_eq!(Field::from_path("requestParameters.bucketName"), None);
        for f in Field::ALL {
            let top = !f.path().contains('.');
            assert_eq!(Field::from_top_key(f.path()) == Some(f), top, "{f:?}");
        }
    }
}

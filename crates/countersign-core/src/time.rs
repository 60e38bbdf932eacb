//! Time as the wire carries it: whole seconds since the Unix epoch (UTC), as in JWT's `iat`/`exp`
//! (RFC 7519 §2, "NumericDate").

/// Seconds since 1970-01-01T00:00:00Z. Signed so that arithmetic on skews cannot wrap.
pub type UnixSeconds = i64;

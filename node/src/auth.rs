//! The shared bearer token: every `dffmpeg.v1.Node` call must carry
//! `authorization: Bearer TOKEN` before the node does any work for it (the
//! health service stays open, as load balancers expect). Compared through
//! SHA-256 digests in constant time, so a wrong guess learns nothing from
//! timing, not even the token's length.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tonic::{Request, Status};

/// The interceptor in front of the node's service.
#[derive(Clone)]
pub struct TokenCheck {
    expected: Option<Arc<[u8; 32]>>,
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCheck").field("required", &self.expected.is_some()).finish()
    }
}

impl TokenCheck {
    /// Requires `token`, or nothing when it is `None`.
    pub fn new(token: Option<&str>) -> Self {
        Self { expected: token.map(|t| Arc::new(Sha256::digest(t.as_bytes()).into())) }
    }

    /// Whether `header` (the whole `authorization` value) carries the token.
    fn accepts(&self, header: Option<&[u8]>) -> bool {
        let Some(expected) = &self.expected else { return true };
        let Some(given) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else { return false };
        let given: [u8; 32] = Sha256::digest(given).into();
        given.iter().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl tonic::service::Interceptor for TokenCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let header = request.metadata().get("authorization").map(|v| v.as_bytes());
        if self.accepts(header) {
            Ok(request)
        } else {
            tracing::warn!("refused a call without the node's bearer token");
            Err(Status::unauthenticated("missing or wrong bearer token (see --token-file)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_passes() {
        let check = TokenCheck::new(Some("s3cret"));
        assert!(check.accepts(Some(b"Bearer s3cret")));
        assert!(!check.accepts(Some(b"Bearer s3cre")));
        assert!(!check.accepts(Some(b"Bearer s3cret2")));
        assert!(!check.accepts(Some(b"s3cret")));
        assert!(!check.accepts(None));
        assert!(TokenCheck::new(None).accepts(None));
    }
}

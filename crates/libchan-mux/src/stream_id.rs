//! Stream identifiers.

use std::fmt;

use crate::codes::Role;

/// A stream identifier (`u64` on the wire).
///
/// `0` is the session itself. The dialer allocates odd ids (1, 3, 5, ...), the
/// acceptor even ids (2, 4, ...); each allocator's ids strictly increase and
/// are never reused, so an id names at most one stream for the life of a
/// session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

impl StreamId {
    /// Stream 0: frames about the session itself (HELLO, PING, GOAWAY).
    pub const SESSION: Self = Self(0);

    /// Whether this is stream 0.
    #[must_use]
    pub fn is_session(self) -> bool {
        self.0 == 0
    }

    /// The role that allocates this id (odd: dialer, even: acceptor).
    /// Meaningless for stream 0.
    #[must_use]
    pub fn opener(self) -> Role {
        if self.0 % 2 == 1 {
            Role::Dialer
        } else {
            Role::Acceptor
        }
    }

    /// The first id a role allocates.
    #[must_use]
    pub fn first(role: Role) -> Self {
        match role {
            Role::Dialer => Self(1),
            Role::Acceptor => Self(2),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u64> for StreamId {
    fn from(id: u64) -> Self {
        Self(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_names_the_opener() {
        assert_eq!(StreamId(1).opener(), Role::Dialer);
        assert_eq!(StreamId(2).opener(), Role::Acceptor);
        assert_eq!(StreamId::first(Role::Dialer), StreamId(1));
        assert_eq!(StreamId::first(Role::Acceptor), StreamId(2));
        assert!(StreamId::SESSION.is_session());
    }
}

//! Which end of the connection we are.

#[allow(unused_imports)]
use crate::prelude::*;
/// The role of an endpoint.
///
/// RFC 6455 §5.1: "a client MUST mask all frames that it sends to the server"
/// and "A server MUST NOT mask any frames that it sends to the client." The
/// role also decides who closes the TCP connection first (§7.1.1: the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that opened the connection and sent the upgrade request.
    Client,
    /// The endpoint that accepted the upgrade request.
    Server,
}

impl Role {
    /// Whether frames this role sends must be masked.
    pub fn masks_outgoing(self) -> bool {
        self == Role::Client
    }

    /// Whether frames this role receives must be masked.
    pub fn expects_masked(self) -> bool {
        self == Role::Server
    }

    /// The other end.
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

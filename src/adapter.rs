//! What every adapter shares: the types written once, generic over a
//! [`Runtime`] (how the adapter waits). Use them through an adapter —
//! [`blocking`](crate::blocking) or [`tokio`](crate::tokio) — whose
//! names (`wsproto::tokio::WebSocket<S>`, `wsproto::blocking::ClientBuilder`,
//! …) pick the runtime and add the methods that wait: blocking calls in
//! one, `async fn`s in the other, with the same names and meaning. The
//! methods that do not wait (`state`, `protocol`, `get_ref`, the builders'
//! setters, …) are written here once, for both.

pub use crate::driver::DEFAULT_TIMEOUT;
pub use crate::driver::budget::MemoryBudget;
pub use crate::driver::client::ClientBuilder;
pub use crate::driver::error::{Error, Refusal};
pub use crate::driver::reconnect::ReconnectingClient;
pub use crate::driver::reconnect::{Backoff, ReconnectPolicy};
pub use crate::driver::runtime::Runtime;
pub use crate::driver::server::ServerBuilder;
pub use crate::driver::server::{Decision, Request};
pub use crate::driver::shutdown::{Admission, ConnectionSet, ShutdownReport};
pub use crate::driver::socket::WebSocket;
pub use crate::driver::split::{WebSocketReader, WebSocketWriter};

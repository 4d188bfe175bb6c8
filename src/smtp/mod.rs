//! The SMTP side of the proxy: the wire codec (no I/O), one session per
//! connection, the listener that accepts and bounds connections, and the
//! client that relays to the next hop.

pub(crate) mod budget;
pub mod codec;
pub(crate) mod dkim;
pub(crate) mod gate;
pub(crate) mod intake;
pub(crate) mod listener;
pub(crate) mod proxy;
pub(crate) mod relay;
pub(crate) mod session;
pub(crate) mod spool;
pub mod stamp;
pub(crate) mod stream;

//! The SMTP side of the proxy: the wire codec (no I/O), one session per
//! connection, the listener that accepts and bounds connections, and the
//! client that relays to the next hop.

pub mod budget;
pub mod codec;
pub mod dkim;
pub mod gate;
pub mod intake;
pub mod listener;
pub mod proxy;
pub mod relay;
pub mod session;
pub mod spool;
pub mod stamp;
pub mod stream;

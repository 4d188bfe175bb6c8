//! Policy review before enforcement (issue 17): every message of a mail
//! archive through one policy, or two to compare, with a summary, the
//! differences, JSON lines and an HTML report. It judges with
//! [`crate::check::check`] exactly as the proxy would, and sends nothing.
//!
//! [`archive`] streams the messages of mbox files, Maildirs and `.eml` trees.

pub mod archive;

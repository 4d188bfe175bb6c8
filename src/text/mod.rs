//! Text that several stages read the same way, so it lives below them all:
//! [`normalise`] (NFKC, case folding, homoglyphs, invisible characters — the
//! form that extraction's output, the dictionaries and the detector agree
//! on), [`matter_key`] (the key a matter number is checked and looked up
//! by) and [`address`] (the strict RFC 5321 parse and normal form of an
//! address or a domain, used by the loader, the policy and the notices).
//! It imports nothing else of the crate.

pub(crate) mod address;
pub(crate) mod matter_key;
pub mod normalise;

//! The conformance cases of identity and access, one submodule per area.
//! Each case takes a fresh, empty store.

mod audit;
mod identity;
mod members;
mod transactions;

pub use audit::*;
pub use identity::*;
pub use members::*;
pub use transactions::*;

//! Tells cargo that the migrations directory is an input of this crate.
//!
//! `sqlx::migrate!` reads the migrations directory at compile time, but on
//! stable Rust cargo does not know it did: without this, a new or edited
//! migration is left out of the binary until something else is rebuilt.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

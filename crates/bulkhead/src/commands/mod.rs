//! One module per subcommand. Each takes the merged settings and a clock,
//! does its work through the service crate, and reports on stdout.

pub mod admin;
pub mod audit;
pub mod email_collisions;
pub mod keys;
pub mod migrate;
pub mod serve;

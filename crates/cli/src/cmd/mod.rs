//! One module per subcommand.
pub mod cc;
pub mod fences;
pub mod litmus;
pub mod profile;
pub mod sim;

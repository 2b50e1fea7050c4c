//! One module per subcommand.
pub mod litmus;
pub mod sim;

//! Output writers. Each takes a finished model and a `W: io::Write`; none computes anything.

pub mod json;
pub mod markdown;
pub mod text;

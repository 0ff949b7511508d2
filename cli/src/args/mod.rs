//! The ffmpeg command line as a typed model.
//!
//! [`parse`] follows ffmpeg's own tokenizer (`split_commandline` in cmdutils.c):
//! table options take a fixed number of values, an unknown `-foo` is an
//! AVOption with one value, `-i` closes an input, any other bare token closes
//! an output, and global options may stand anywhere. Every option keeps its
//! position, so [`Command::render`] gives back the identical argv.

mod model;
mod table;
mod token;

pub use model::{Command, FileArg, Opt, ParseError, parse};
pub use table::{Arity, Scope, lookup};
pub use token::{parse_duration, parse_option_token};

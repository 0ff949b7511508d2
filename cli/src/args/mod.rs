//! The ffmpeg command line as a typed model.
//!
//! [`parse`] follows ffmpeg's own tokenizer (`split_commandline` in cmdutils.c):
//! table options take a fixed number of values, an unknown `-foo` is an
//! AVOption with one value, `-i` closes an input, any other bare token closes
//! an output, and global options may stand anywhere. Every option keeps its
//! position, so [`Command::render`] gives back the identical argv.

mod ffmpeg51;
mod filtergraph;
mod model;
mod stream_spec;
mod table;
mod token;

pub use filtergraph::{Filter, Graph, GraphError, filter_names, parse_graph, unquoted};
pub use model::{Command, FileArg, Opt, OptKind, ParseError, parse};
pub use stream_spec::{
    MapArg, MapSource, MediaType, SpecError, StreamSpec, parse_map, parse_stream_spec,
};
pub use table::{Arity, Entry, LATER_VERSIONS, Scope, is_later_version, lookup};
pub use token::{parse_duration, parse_option_token};

//! Reading domain lists: layouts and decompression (`reader`), normalisation of one field
//! (`normalize`), and de-duplication in bounded memory (`dedup`).

pub mod dedup;
pub mod normalize;
pub mod reader;

pub use normalize::{DomainName, InvalidName, normalize};
pub use reader::{InputReader, InputRecord, InputShape, PassColumn, PassKind, PassValue};

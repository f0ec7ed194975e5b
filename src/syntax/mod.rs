//! Text to AST. Takes one `.flow` file's text and gives its syntax tree or the first syntax
//! error; never looks at what names mean.

pub mod ast;
mod error;
mod parser;
mod scan;

pub use error::SyntaxError;

use crate::source::SourceFile;

/// Parses one `.flow` file.
pub fn parse(source: &SourceFile) -> Result<ast::Flow, SyntaxError> {
    parser::parse_file(&source.text)
}

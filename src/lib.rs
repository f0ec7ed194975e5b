//! flowc: the `.flow` workflow language. Text is parsed (`syntax`), compiled into a validated
//! IR (`compile`) and rendered or run by the tools on top (`cli`, `graph`).
//!
//! ```
//! use flowc::{SourceFile, tools::ToolRegistry};
//!
//! let source = SourceFile::new("hello.flow", "flow hello {\n  node greet = noop\n  start -> greet\n}\n");
//! let checked = flowc::check(&source, &ToolRegistry::builtin());
//! assert!(!checked.report.has_errors());
//! assert_eq!(checked.program.expect("it compiles").nodes[0].name, "greet");
//! ```

pub mod cancel;
pub mod cli;
pub mod compile;
pub mod diagnostics;
#[cfg(feature = "store")]
pub mod durable;
pub mod fmt;
pub mod graph;
#[cfg(feature = "lsp")]
pub mod lsp;
pub mod runtime;
pub mod sandbox;
#[cfg(feature = "server")]
pub mod server;
pub mod source;
pub mod span;
#[cfg(feature = "store")]
pub mod store;
mod sync;
pub mod syntax;
pub mod tools;
pub mod value;

pub use cancel::CancelToken;
pub use compile::ir::Program;
pub use diagnostics::FileReport;
pub use runtime::{Interpreter, RunOptions, RunOutcome, RuntimeError};
pub use source::SourceFile;

use sandbox::Limits;
use tools::ToolRegistry;

/// A checked file: the program, when it compiled, and every diagnostic.
#[derive(Debug)]
pub struct Checked {
    pub program: Option<Program>,
    pub report: FileReport,
}

/// Parses and compiles one file with the default sandbox limits.
pub fn check(source: &SourceFile, tools: &ToolRegistry) -> Checked {
    check_with_limits(source, tools, &Limits::default())
}

/// Parses and compiles one file; guards and scripts compile under `limits` (expression
/// depth), as they will run.
pub fn check_with_limits(source: &SourceFile, tools: &ToolRegistry, limits: &Limits) -> Checked {
    let flow = match syntax::parse(source) {
        Ok(flow) => flow,
        Err(error) => {
            let mut report = FileReport::new(source.clone());
            report.push(error);
            return Checked {
                program: None,
                report,
            };
        }
    };
    compile_parsed(source, &flow, tools, limits)
}

/// Compiles a file already parsed (as `flow`), for callers that keep the syntax tree too.
pub fn compile_parsed(
    source: &SourceFile,
    flow: &syntax::ast::Flow,
    tools: &ToolRegistry,
    limits: &Limits,
) -> Checked {
    let mut report = FileReport::new(source.clone());
    let compilation = compile::compile(flow, &source.text, tools, limits);
    for diagnostic in compilation.diagnostics {
        report.push(diagnostic);
    }
    Checked {
        program: compilation.program,
        report,
    }
}

//! `code.list_files(path, glob?)`: the files under a folder whose path (relative to the
//! folder) matches a glob, default `**/*.py`. Hidden entries (names starting with `.`) and
//! `__pycache__` folders are skipped, and symbolic links to folders are not followed. Sets
//! `files`: the paths relative to the flow's folder (`path` joined with the match, with `/`),
//! sorted, so that `code.extract` and `code.analyze` can read them as they are.

use std::path::Path;

use globset::{Glob, GlobMatcher};
use serde_json::{Map, Value};

use super::check_interrupted;
use crate::tools::{
    Access, ArgType, PathError, Tool, ToolCall, ToolFailure, ToolRegistry, ToolSpec,
};

const DEFAULT_GLOB: &str = "**/*.py";

pub(super) fn register(registry: &mut ToolRegistry) {
    registry.register(
        ToolSpec::new(
            "code.list_files",
            "Lists the files under a folder matching a glob (default `**/*.py`), skipping hidden entries and __pycache__; sets `files` (sorted paths relative to the flow's folder).",
        )
        .required("path", ArgType::String, "the folder, relative to the flow's folder")
        .optional("glob", ArgType::String, "which files, matched against their path under `path` (default `**/*.py`)"),
        ListFiles,
    );
}

struct ListFiles;

impl Tool for ListFiles {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let Some(Value::String(folder)) = call.args.get("path") else {
            return Err(ToolFailure::failed(
                "code.list_files needs a `path` string argument",
            ));
        };
        let glob = match call.args.get("glob") {
            None => DEFAULT_GLOB,
            Some(Value::String(glob)) => glob,
            Some(_) => return Err(ToolFailure::failed("argument `glob` must be a string")),
        };
        let matcher = matcher(glob).map_err(ToolFailure::failed)?;
        let not_a_folder = |root: &Path| {
            ToolFailure::failed(format!(
                "argument `path`: `{folder}` is not a folder ({} does not exist or is not a directory)",
                root.display()
            ))
        };
        let root = match call.path(folder, Access::Read) {
            Ok(root) if root.is_dir() => root,
            Ok(root) | Err(PathError::Unreachable { path: root, .. }) => {
                return Err(not_a_folder(&root));
            }
            Err(refused) => {
                return Err(ToolFailure::failed(format!(
                    "argument `path`: `{folder}`: {refused}"
                )));
            }
        };
        let mut found = Vec::new();
        walk(call, &root, "", &matcher, &mut found)?;
        found.sort();
        let base = folder.trim_end_matches('/');
        let files = found
            .into_iter()
            .map(|relative| {
                let joined = if base.is_empty() || base == "." {
                    relative
                } else {
                    format!("{base}/{relative}")
                };
                Value::String(joined)
            })
            .collect();
        Ok(Map::from_iter([("files".to_owned(), Value::Array(files))]))
    }

    fn check_arg(&self, name: &str, value: &Value) -> Result<(), String> {
        match (name, value) {
            ("glob", Value::String(glob)) => matcher(glob).map(drop),
            _ => Ok(()),
        }
    }
}

fn matcher(glob: &str) -> Result<GlobMatcher, String> {
    Glob::new(glob)
        .map(|glob| glob.compile_matcher())
        .map_err(|error| format!("argument `glob`: `{glob}` is not a glob: {error}"))
}

fn walk(
    call: &ToolCall<'_>,
    folder: &Path,
    relative: &str,
    matcher: &GlobMatcher,
    found: &mut Vec<String>,
) -> Result<(), ToolFailure> {
    check_interrupted(call, "code.list_files")?;
    let entries = std::fs::read_dir(folder).map_err(|error| {
        ToolFailure::failed(format!("cannot list `{}`: {error}", folder.display()))
    })?;
    for entry in entries {
        let entry = entry.map_err(|error| {
            ToolFailure::failed(format!("cannot list `{}`: {error}", folder.display()))
        })?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // a name that is not UTF-8 cannot be a state string
        };
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        let path = if relative.is_empty() {
            name.clone()
        } else {
            format!("{relative}/{name}")
        };
        let file_type = entry.file_type().map_err(|error| {
            ToolFailure::failed(format!("cannot read `{}`: {error}", entry.path().display()))
        })?;
        if file_type.is_dir() {
            walk(call, &entry.path(), &path, matcher, found)?;
        } else if entry.path().is_file() && matcher.is_match(&path) {
            found.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::tools::code::testing::{call, failure, folder};

    #[test]
    fn lists_python_files_sorted_skipping_hidden_and_pycache() {
        let dir = folder(&[
            ("src/b.py", ""),
            ("src/a.py", ""),
            ("src/pkg/c.py", ""),
            ("src/notes.txt", ""),
            ("src/.hidden/d.py", ""),
            ("src/__pycache__/e.py", ""),
            ("src/.f.py", ""),
        ]);
        let changes = call(
            "code.list_files",
            dir.path(),
            &json!({"path": "src"}),
            &json!({}),
        )
        .expect("listed");
        assert_eq!(
            changes["files"],
            json!(["src/a.py", "src/b.py", "src/pkg/c.py"])
        );
    }

    #[test]
    fn a_glob_matches_paths_under_the_folder() {
        let dir = folder(&[("a.py", ""), ("pkg/b.py", ""), ("pkg/c.txt", "")]);
        let args = json!({"path": ".", "glob": "pkg/*"});
        let changes = call("code.list_files", dir.path(), &args, &json!({})).expect("listed");
        assert_eq!(changes["files"], json!(["pkg/b.py", "pkg/c.txt"]));
    }

    #[test]
    fn a_missing_folder_fails_naming_the_path() {
        let dir = folder(&[]);
        let message = failure(call(
            "code.list_files",
            dir.path(),
            &json!({"path": "nowhere"}),
            &json!({}),
        ));
        assert!(
            message.starts_with("argument `path`: `nowhere` is not a folder"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_glob_fails_naming_the_glob() {
        let dir = folder(&[]);
        let args = json!({"path": ".", "glob": "a/[b"});
        let message = failure(call("code.list_files", dir.path(), &args, &json!({})));
        assert!(
            message.starts_with("argument `glob`: `a/[b` is not a glob"),
            "{message}"
        );
    }
}

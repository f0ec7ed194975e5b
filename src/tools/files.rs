//! Which files tools may read and write. A path in a run's state or a node's arguments comes
//! from whoever wrote the state or the flow (on a server: any client), so a tool opens it only
//! when, with every symbolic link and `..` resolved, it lies under one of the allowed folders
//! and is none of the protected files (a server's run store).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The folders tools may use, and files under them they may not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileAccess {
    /// Resolved when a path is checked, so a folder created after the run starts counts.
    roots: Vec<PathBuf>,
    protected: Vec<PathBuf>,
}

/// What a tool does with a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Opens an existing file or folder.
    Read,
    /// Creates or replaces a file (its folder must exist).
    Write,
}

/// Why a tool may not use a path.
#[derive(Debug)]
pub enum PathError {
    /// The file (or, to write, its folder) cannot be found or resolved.
    Unreachable { path: PathBuf, error: io::Error },
    /// The resolved path is under none of the allowed folders.
    Outside {
        resolved: PathBuf,
        roots: Vec<PathBuf>,
    },
    /// The path is one of the files tools may never touch.
    Protected { resolved: PathBuf },
}

impl FileAccess {
    /// Paths under these folders (and nothing else) may be used.
    pub fn within<P: Into<PathBuf>>(roots: impl IntoIterator<Item = P>) -> Self {
        FileAccess {
            roots: roots.into_iter().map(Into::into).collect(),
            protected: Vec::new(),
        }
    }

    /// No file may be used.
    pub fn nowhere() -> Self {
        FileAccess::default()
    }

    /// Forbids `file` even under an allowed folder (it need not exist yet).
    #[must_use]
    pub fn protect(mut self, file: impl Into<PathBuf>) -> Self {
        self.protected.push(file.into());
        self
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// `given` (relative to `workdir`) resolved, if a tool may use it for `access`.
    pub fn resolve(
        &self,
        workdir: &Path,
        given: &str,
        access: Access,
    ) -> Result<PathBuf, PathError> {
        let path = workdir.join(given);
        let unreachable = |error| PathError::Unreachable {
            path: path.clone(),
            error,
        };
        let resolved = match access {
            Access::Read => std::fs::canonicalize(&path).map_err(unreachable)?,
            // The file itself may not exist yet: resolve its folder. A write replaces the
            // file by a rename, which replaces a symbolic link rather than following it.
            Access::Write => {
                let name = match path.file_name() {
                    Some(name) if Path::new(name) != Path::new("..") => name.to_owned(),
                    _ => {
                        return Err(unreachable(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "not a file name",
                        )));
                    }
                };
                let folder = match path.parent() {
                    Some(folder) if !folder.as_os_str().is_empty() => folder,
                    _ => Path::new("."),
                };
                std::fs::canonicalize(folder)
                    .map_err(unreachable)?
                    .join(name)
            }
        };
        let roots: Vec<PathBuf> = self
            .roots
            .iter()
            .filter_map(|root| std::fs::canonicalize(root).ok())
            .collect();
        if !roots.iter().any(|root| resolved.starts_with(root)) {
            return Err(PathError::Outside {
                resolved,
                roots: self.roots.clone(),
            });
        }
        if self.protected.iter().any(|file| same_file(file, &resolved)) {
            return Err(PathError::Protected { resolved });
        }
        Ok(resolved)
    }
}

/// `file` names `resolved`: compared by folder, resolved, and name, since it may not exist.
fn same_file(file: &Path, resolved: &Path) -> bool {
    let folder = match file.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(folder), file.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name) == resolved,
        _ => false,
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Unreachable { path, error } => {
                write!(f, "cannot open {}: {error}", path.display())
            }
            PathError::Outside { resolved, roots } if roots.is_empty() => write!(
                f,
                "{} is not in a folder tools may use, and none is allowed here: \
                 allow one with `--allow-path DIR`",
                resolved.display()
            ),
            PathError::Outside { resolved, roots } => {
                let roots: Vec<String> = roots
                    .iter()
                    .map(|root| format!("`{}`", root.display()))
                    .collect();
                write!(
                    f,
                    "{} is outside the folders tools may use ({}): allow its folder with \
                     `--allow-path DIR`",
                    resolved.display(),
                    roots.join(", ")
                )
            }
            PathError::Protected { resolved } => write!(
                f,
                "{} is the server's run store, which tools may not use",
                resolved.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path().join("allowed");
        std::fs::create_dir(&root).expect("created");
        std::fs::write(root.join("in.csv"), "a\n").expect("written");
        std::fs::write(dir.path().join("secret.csv"), "a\n").expect("written");
        (dir, root)
    }

    #[test]
    fn a_file_under_an_allowed_folder_resolves() {
        let (_dir, root) = folder();
        let access = FileAccess::within([&root]);
        let resolved = access
            .resolve(&root, "in.csv", Access::Read)
            .expect("allowed");
        assert_eq!(resolved, root.canonicalize().unwrap().join("in.csv"));
        let written = access.resolve(&root, "new.csv", Access::Write);
        assert!(written.is_ok(), "{written:?}");
    }

    #[test]
    fn dot_dot_absolute_paths_and_links_out_are_refused() {
        let (dir, root) = folder();
        let access = FileAccess::within([&root]);
        let secret = dir.path().join("secret.csv");
        for given in ["../secret.csv", secret.to_str().unwrap(), "/etc/hostname"] {
            for access_kind in [Access::Read, Access::Write] {
                let refused = access.resolve(&root, given, access_kind);
                assert!(
                    matches!(refused, Err(PathError::Outside { .. })),
                    "{given} {access_kind:?}: {refused:?}"
                );
            }
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&secret, root.join("link.csv")).expect("linked");
            let refused = access.resolve(&root, "link.csv", Access::Read);
            assert!(
                matches!(refused, Err(PathError::Outside { .. })),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn no_folder_allows_nothing_and_says_how_to_allow_one() {
        let (_dir, root) = folder();
        let refused = FileAccess::nowhere()
            .resolve(&root, "in.csv", Access::Read)
            .expect_err("nothing is allowed");
        assert!(
            refused
                .to_string()
                .contains("allow one with `--allow-path DIR`")
        );
    }

    #[test]
    fn protected_files_are_refused_even_before_they_exist() {
        let (_dir, root) = folder();
        let access = FileAccess::within([&root]).protect(root.join("runs.db-wal"));
        let refused = access.resolve(&root, "runs.db-wal", Access::Write);
        assert!(
            matches!(refused, Err(PathError::Protected { .. })),
            "{refused:?}"
        );
        assert!(access.resolve(&root, "other.db", Access::Write).is_ok());
    }

    #[test]
    fn a_missing_file_says_it_cannot_be_opened() {
        let (_dir, root) = folder();
        let missing = FileAccess::within([&root])
            .resolve(&root, "gone.csv", Access::Read)
            .expect_err("missing");
        assert!(missing.to_string().starts_with("cannot open "), "{missing}");
    }
}

//! What the tests of several swvr crates share (a dev-dependency only):
//! [`TempDir`], a temporary folder removed when the test ends — also when
//! it fails (the guard is dropped while the panic unwinds), so repeated
//! test runs leave nothing behind in the temporary directory.
//!
//! ```
//! let dir = swvr_test_support::TempDir::new("doc", "example");
//! std::fs::write(dir.join("a.txt"), "a").unwrap();
//! let path = dir.to_path_buf();
//! drop(dir);
//! assert!(!path.exists());
//! ```

use std::path::{Path, PathBuf};

/// A folder under the temporary directory, emptied on creation and
/// removed (whole) on drop. Dereferences to its path, or to a path inside
/// it after [`TempDir::into_sub`].
pub struct TempDir {
    root: PathBuf,
    path: PathBuf,
}

impl TempDir {
    /// `$TMPDIR/swvr-{prefix}-{name}-{pid}`, created empty.
    pub fn new(prefix: &str, name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("swvr-{prefix}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: cannot create: {e}", d.display()));
        Self {
            path: d.clone(),
            root: d,
        }
    }

    /// The same guard, pointing at `sub` inside the folder (not created):
    /// for helpers that return a run folder `DIR/out` and must keep `DIR`
    /// alive as long as the caller uses it.
    pub fn into_sub(mut self, sub: &str) -> Self {
        let root = std::mem::take(&mut self.root);
        Self {
            path: root.join(sub),
            root,
        }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.root.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TempDir;

    #[test]
    fn the_folder_is_removed_when_a_test_panics() {
        let mut kept = std::path::PathBuf::new();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let dir = TempDir::new("test-support", "panic").into_sub("out");
            std::fs::create_dir_all(&*dir).unwrap_or_else(|e| panic!("{e}"));
            kept = dir.to_path_buf();
            panic!("the test fails");
        }));
        assert!(panicked.is_err());
        assert!(kept.ends_with("out") && !kept.exists());
        assert!(kept.parent().is_some_and(|root| !root.exists()));
    }
}

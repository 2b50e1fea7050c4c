//! Helpers shared by the runtime's integration tests.

use std::path::{Path, PathBuf};

/// A scratch directory under the system's temporary directory, named
/// `PREFIX-PID-NAME`: emptied when made, removed when dropped unless the
/// test is failing (then kept, for a look at what was built and run).
pub struct Scratch(PathBuf);

impl Scratch {
    /// A fresh, empty scratch directory `prefix-PID-name`.
    pub fn new(prefix: &str, name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("{prefix}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

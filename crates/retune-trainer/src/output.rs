//! Which folders retune may replace. Every folder it writes (model exports, re-rankers,
//! checkpoints and their parent) carries a marker file, [`MARKER`]; a folder is replaced only
//! when it does not exist, is empty, or carries the marker — so an `--output` that names a
//! user's folder (their data, a project, the home directory) is refused instead of deleted.
//! The current directory and its parents are never replaced, marked or not.

use crate::error::TrainerError;
use std::path::Path;

/// The file that marks a folder as retune's own output.
pub const MARKER: &str = ".retune-output";

/// Ok when `dir` may be removed and written again: absent, empty, or marked by retune, and
/// neither the current directory nor one of its parents.
pub fn check_replaceable(dir: &Path) -> Result<(), TrainerError> {
    check_not_current(dir)?;
    let mut entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(TrainerError::io(dir)(e)),
    };
    if entries.next().is_none() || dir.join(MARKER).is_file() {
        return Ok(());
    }
    Err(TrainerError::NotReplaceable {
        path: dir.to_path_buf(),
        reason: "it is not empty and retune did not write it (no .retune-output marker); \
                 choose another output folder, pass --overwrite, or empty it yourself"
            .into(),
    })
}

/// Takes an existing folder the user asked to overwrite (`--overwrite`): marks it as retune's
/// output so that it may be replaced; the current directory and its parents are still
/// refused, as is anything that is not a folder.
pub fn claim(dir: &Path) -> Result<(), TrainerError> {
    check_not_current(dir)?;
    if dir.is_dir() { mark(dir) } else { Ok(()) }
}

/// Refuses a path that exists and is not a folder, or that is the current directory or one of
/// its parents.
fn check_not_current(dir: &Path) -> Result<(), TrainerError> {
    let refuse = |reason: &str| {
        Err(TrainerError::NotReplaceable {
            path: dir.to_path_buf(),
            reason: reason.to_owned(),
        })
    };
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(TrainerError::io(dir)(e)),
    };
    if !meta.is_dir() {
        return refuse("it is not a folder");
    }
    let canonical = dir.canonicalize().map_err(TrainerError::io(dir))?;
    if let Ok(cwd) = std::env::current_dir().and_then(|c| c.canonicalize())
        && cwd.starts_with(&canonical)
    {
        return refuse("it is the current directory or one of its parents");
    }
    Ok(())
}

/// Marks `dir` (which must exist) as retune's output.
pub fn mark(dir: &Path) -> Result<(), TrainerError> {
    let path = dir.join(MARKER);
    if path.is_file() {
        return Ok(());
    }
    std::fs::write(
        &path,
        "written by retune: it may replace this folder when asked to write here again\n",
    )
    .map_err(TrainerError::io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_empty_and_marked_folders_may_be_replaced() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        check_replaceable(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
        check_replaceable(&dir).unwrap();
        std::fs::write(dir.join("model.safetensors"), b"x").unwrap();
        mark(&dir).unwrap();
        check_replaceable(&dir).unwrap();
    }

    #[test]
    fn a_users_folder_a_file_and_the_current_directory_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("train.jsonl"), b"{}\n").unwrap();
        let err = check_replaceable(&data).unwrap_err().to_string();
        assert!(
            err.contains("data") && err.contains("did not write it"),
            "{err}"
        );
        let file = data.join("train.jsonl");
        assert!(check_replaceable(&file).is_err());
        let cwd = std::env::current_dir().unwrap();
        let err = check_replaceable(&cwd).unwrap_err().to_string();
        assert!(err.contains("current directory"), "{err}");
        assert!(
            claim(&cwd).is_err(),
            "--overwrite never takes the current directory"
        );
        claim(&data).unwrap();
        check_replaceable(&data).unwrap();
        let parent = cwd.parent().unwrap();
        assert!(check_replaceable(parent).is_err());
    }
}

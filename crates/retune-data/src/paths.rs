//! Inputs and outputs never meet: before a step writes anything, every output is checked
//! against every input (and against the other outputs) by canonical path and, for files that
//! exist, by device and inode (hard links, `./x` against `x`, symlinks). An output may also
//! not be a folder that holds an input, since folders are replaced whole.

use crate::error::DataError;
use std::path::{Path, PathBuf};

/// A path named by an option: the option (`--input`) and the path.
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    /// The option or role that named it, as the user typed it (`--train`).
    pub option: &'a str,
    /// The path.
    pub path: &'a Path,
}

impl<'a> Named<'a> {
    /// `option` naming `path`.
    pub fn new(option: &'a str, path: &'a Path) -> Self {
        Named { option, path }
    }
}

/// Refuses, naming both options and paths, when an output is an input, an output is named
/// twice, or an output folder holds an input.
pub fn check_distinct(inputs: &[Named<'_>], outputs: &[Named<'_>]) -> Result<(), DataError> {
    for (i, out) in outputs.iter().enumerate() {
        for input in inputs {
            if same_file(out.path, input.path) {
                return Err(clash(out, input, "is the same file as the input"));
            }
            if holds(out.path, input.path) {
                return Err(clash(out, input, "is a folder that holds the input"));
            }
        }
        for other in &outputs[..i] {
            if same_file(out.path, other.path) {
                return Err(clash(out, other, "is the same file as the output"));
            }
        }
    }
    Ok(())
}

fn clash(out: &Named<'_>, other: &Named<'_>, what: &str) -> DataError {
    DataError::SamePath {
        output: format!("{} {}", out.option, out.path.display()),
        other: format!("{} {}", other.option, other.path.display()),
        relation: what.to_owned(),
    }
}

/// The absolute, symlink-free form of `p`, also for a file not yet written (its parent's
/// canonical form joined with its name); `None` when no ancestor resolves.
fn canonical(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let name = p.file_name()?;
    let parent = p.parent().filter(|q| !q.as_os_str().is_empty());
    let base = match parent {
        Some(q) => canonical(q)?,
        None => std::env::current_dir().ok()?.canonicalize().ok()?,
    };
    Some(base.join(name))
}

/// Whether `a` and `b` name one file: the same canonical path, or the same device and inode.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Some(x), Some(y)) = (canonical(a), canonical(b))
        && x == y
    {
        return true;
    }
    same_inode(a, b)
}

#[cfg(unix)]
fn same_inode(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_: &Path, _: &Path) -> bool {
    false
}

/// Whether folder `dir` (existing or not) contains `path`.
fn holds(dir: &Path, path: &Path) -> bool {
    match (canonical(dir), canonical(path)) {
        (Some(d), Some(p)) => p != d && p.starts_with(&d),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_over_an_input_is_refused_by_any_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("g.jsonl");
        std::fs::write(&input, "{}\n").unwrap();
        let dotted = dir.path().join(".").join("g.jsonl");
        let link = dir.path().join("hard.jsonl");
        std::fs::hard_link(&input, &link).unwrap();
        for out in [&input, &dotted, &link] {
            let err = check_distinct(
                &[Named::new("--input", &input)],
                &[Named::new("--output", out)],
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("--output") && err.contains("--input"), "{err}");
        }
        let other = dir.path().join("cleaned.jsonl");
        check_distinct(
            &[Named::new("--input", &input)],
            &[Named::new("--output", &other)],
        )
        .unwrap();
    }

    #[test]
    fn two_outputs_on_one_file_and_a_folder_holding_an_input_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t.jsonl");
        let err = check_distinct(&[], &[Named::new("--train", &t), Named::new("--eval", &t)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--eval") && err.contains("--train"), "{err}");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let train = data.join("train.jsonl");
        std::fs::write(&train, "{}\n").unwrap();
        let err = check_distinct(
            &[Named::new("--train", &train)],
            &[Named::new("--output", &data)],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("holds the input"), "{err}");
    }
}

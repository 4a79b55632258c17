//! Shared by the review tests: a review server started as a child process on a free port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `retune STEP`: the built program with its subcommand.
pub fn retune(step: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_retune"));
    c.arg(step);
    c
}

/// A running `retune review`; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `review` on 127.0.0.1 with port 0 and waits for the URL it prints.
pub fn start(input: &Path, output: &Path, categories: Option<&Path>) -> Server {
    let mut c = retune("review");
    c.arg("--input").arg(input).arg("--output").arg(output);
    if let Some(cats) = categories {
        c.arg("--categories").arg(cats);
    }
    let mut child = c
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("review starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("review prints its URL");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    Server { child, url }
}

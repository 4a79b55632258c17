//! retune-serve's integration tests: every route against the tiny fixture models over real
//! HTTP on 127.0.0.1, the validation answers, the key, the queue under load and from Rust.

mod common;
mod load;
mod routes;
mod validation;

//! One test binary for the hosted-API clients against local mocks: each module below was its own
//! binary, and one link instead of 3 keeps a cold build's disk and link time down.

mod cohere_flow;
mod generate_openai;
mod openai_embeddings;
mod secrets;

//! Embed texts with a local model and rank documents for a query by cosine similarity.
//!
//! `cargo run --release --example embed -- [MODEL]` from the repository root. MODEL is a model
//! folder or a Hub id in the Hugging Face cache (default: the repository's tiny test model,
//! `fixtures/tiny-bert`; try `sentence-transformers/all-MiniLM-L6-v2`, which
//! `scripts/install-model.sh` puts in the cache offline).

use retune_data::Embedder;
use retune_trainer::backend::{Cpu, cpu_device};
use retune_trainer::{EncoderConfig, SentenceEncoder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures/tiny-bert".to_owned());
    let config = EncoderConfig::new(&model).with_batch_size(32);
    let encoder = SentenceEncoder::<Cpu>::load(&config, &cpu_device())?;

    let query = "Uber from the airport to the client's office";
    let docs = [
        "Travel: Ground Transport",
        "Travel: Airfare",
        "Meals & Entertainment",
        "Software & Subscriptions",
    ];
    let q = encoder.embed(&[query])?;
    let d = encoder.embed(&docs)?;
    println!(
        "{model}: {} dimensions, normalized: {}",
        encoder.dimension(),
        encoder.normalized()
    );

    let cosine = |a: &[f32], b: &[f32]| {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (norm(a) * norm(b))
    };
    let mut ranked: Vec<(f32, &str)> = d
        .iter()
        .zip(docs)
        .map(|(v, doc)| (cosine(&q[0], v), doc))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("{query}");
    for (score, doc) in ranked {
        println!("  {score:.4}  {doc}");
    }
    Ok(())
}

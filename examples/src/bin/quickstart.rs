//! `quickstart --out DIR`: the whole loop offline, on the project's own domain data
//! (`fixtures/domain/`): split the reviewed transactions, mine hard negatives with the base
//! model, fine-tune all-MiniLM-L6-v2, evaluate base against fine-tuned, and write `report.md`,
//! `metrics.json`, `per_query.csv`, `chart.png` and `chart.svg` into DIR.
//!
//! The code lives in [`retune_examples::cli::quickstart`], so the generic training and inference
//! stack is compiled once, in the library, instead of once per binary.

fn main() -> anyhow::Result<()> {
    retune_examples::cli::quickstart::main()
}

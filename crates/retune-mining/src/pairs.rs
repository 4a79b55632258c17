//! Negatives for (anchor, positive) training pairs with any [`Embedder`] (a local model, a
//! hosted API): anchors and corpus embedded once, each positive found in the corpus by key or
//! text (it is never its own pair's negative), then the configured strategy and filters.

use crate::error::MiningError;
use crate::miner::{Mined, MiningConfig, mine_negatives};
use retune_data::{CorpusDoc, Embedder};

/// The mined negatives of each `(anchor, positive)` pair, as indices into `corpus`.
pub fn mine_pairs<E: Embedder>(
    embedder: &E,
    pairs: &[(&str, &str)],
    corpus: &[CorpusDoc],
    config: &MiningConfig,
) -> Result<Vec<Mined>, MiningError> {
    let positives = pairs
        .iter()
        .enumerate()
        .map(|(pair, (_, positive))| {
            corpus
                .iter()
                .position(|d| d.text == *positive || d.key() == *positive)
                .map(|i| vec![i])
                .ok_or_else(|| MiningError::PositiveNotInCorpus {
                    pair,
                    positive: (*positive).to_owned(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let embed = |texts: &[&str]| {
        embedder.embed(texts).map_err(|e| MiningError::Embed {
            model: embedder.model_id().to_owned(),
            source: Box::new(e),
        })
    };
    let texts: Vec<&str> = corpus.iter().map(|d| d.text.as_str()).collect();
    let anchors: Vec<&str> = pairs.iter().map(|(a, _)| *a).collect();
    let q = embed(&anchors)?;
    let d = embed(&texts)?;
    Ok(mine_negatives(&q, &d, &texts, &positives, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two-dimensional embeddings by keyword, for a corpus about travel and food.
    struct Keywords;

    impl Embedder for Keywords {
        type Error = std::io::Error;
        fn model_id(&self) -> &str {
            "keywords"
        }
        fn dimension(&self) -> usize {
            2
        }
        fn normalized(&self) -> bool {
            true
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, std::io::Error> {
            texts
                .iter()
                .map(|t| match t {
                    t if t.contains("fail") => Err(std::io::Error::other("model down")),
                    t if t.contains("flight") || t.contains("Air") => Ok(vec![1.0, 0.0]),
                    t if t.contains("taxi") || t.contains("Ground") => Ok(vec![0.8, 0.6]),
                    _ => Ok(vec![0.0, 1.0]),
                })
                .collect()
        }
    }

    fn corpus() -> Vec<CorpusDoc> {
        ["Airfare", "Ground Transport", "Meals"]
            .iter()
            .map(|t| CorpusDoc {
                id: None,
                text: (*t).to_owned(),
            })
            .collect()
    }

    #[test]
    fn the_nearest_non_positive_document_is_the_hard_negative() {
        let pairs = [("Delta flight", "Airfare"), ("Lunch", "Meals")];
        let mined = mine_pairs(&Keywords, &pairs, &corpus(), &MiningConfig::hard(1, 0)).unwrap();
        assert_eq!(mined[0].negatives, vec![1]);
        assert_eq!(mined[1].negatives, vec![1]);
        let skipped = mine_pairs(&Keywords, &pairs, &corpus(), &MiningConfig::hard(1, 1)).unwrap();
        assert_eq!(skipped[0].negatives, vec![2]);
    }

    #[test]
    fn a_missing_positive_and_a_failing_embedder_are_errors() {
        let e = mine_pairs(
            &Keywords,
            &[("a", "Rent")],
            &corpus(),
            &MiningConfig::hard(1, 0),
        );
        assert!(matches!(
            e,
            Err(MiningError::PositiveNotInCorpus { pair: 0, .. })
        ));
        let e = mine_pairs(
            &Keywords,
            &[("fail", "Meals")],
            &corpus(),
            &MiningConfig::hard(1, 0),
        );
        let e = e.unwrap_err();
        assert!(e.to_string().contains("keywords"), "{e}");
        assert!(
            std::error::Error::source(&e)
                .unwrap()
                .to_string()
                .contains("model down")
        );
    }
}

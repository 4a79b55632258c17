//! Cohere re-ranker training lines from labeled queries: the course's random wrong categories
//! (four per line, each transaction twice) or negatives mined elsewhere (retune-mining).

use rand::SeedableRng;
use rand::seq::IndexedRandom;
use retune_data::CohereRerankItem;

/// Where the hard negatives of each line come from.
#[derive(Debug, Clone)]
pub enum NegativeSource {
    /// Uniformly random non-relevant documents, `per_line` of them, each query written
    /// `copies` times with fresh draws (the course: 4 and 2), seeded.
    Random {
        /// Negatives per line.
        per_line: usize,
        /// Lines per query.
        copies: usize,
        /// Seed.
        seed: u64,
    },
    /// One list per query, already chosen (e.g. mined with the base model); one line each.
    Given(Vec<Vec<String>>),
}

/// Builds the lines. `queries` pairs each query with its relevant documents; `documents` is
/// the whole corpus the negatives are drawn from. A relevant document is never a negative.
pub fn build_rerank_items(
    queries: &[(String, Vec<String>)],
    documents: &[String],
    negatives: &NegativeSource,
) -> Vec<CohereRerankItem> {
    let mut out = Vec::new();
    match negatives {
        NegativeSource::Random {
            per_line,
            copies,
            seed,
        } => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(*seed);
            for (q, rel) in queries {
                let pool: Vec<&String> = documents.iter().filter(|d| !rel.contains(d)).collect();
                for _ in 0..(*copies).max(1) {
                    let negs = pool
                        .choose_multiple(&mut rng, (*per_line).min(pool.len()))
                        .map(|s| s.to_string())
                        .collect();
                    out.push(CohereRerankItem {
                        query: q.clone(),
                        relevant_passages: rel.clone(),
                        hard_negatives: negs,
                    });
                }
            }
        }
        NegativeSource::Given(lists) => {
            for ((q, rel), negs) in queries.iter().zip(lists) {
                out.push(CohereRerankItem {
                    query: q.clone(),
                    relevant_passages: rel.clone(),
                    hard_negatives: negs.iter().filter(|n| !rel.contains(n)).cloned().collect(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_lines_follow_the_course_and_never_use_a_positive() {
        let docs: Vec<String> = (0..10).map(|i| format!("cat{i}")).collect();
        let queries = vec![
            ("t1".to_string(), vec!["cat1".to_string()]),
            ("t2".to_string(), vec!["cat2".to_string()]),
        ];
        let src = NegativeSource::Random {
            per_line: 4,
            copies: 2,
            seed: 7,
        };
        let items = build_rerank_items(&queries, &docs, &src);
        assert_eq!(items.len(), 4);
        for it in &items {
            assert_eq!(it.hard_negatives.len(), 4);
            assert!(!it.hard_negatives.contains(&it.relevant_passages[0]));
            let mut u = it.hard_negatives.clone();
            u.sort();
            u.dedup();
            assert_eq!(u.len(), 4);
        }
        assert_ne!(items[0].hard_negatives, items[1].hard_negatives);
        assert_eq!(items, build_rerank_items(&queries, &docs, &src));
    }

    #[test]
    fn given_negatives_drop_positives() {
        let queries = vec![("t".to_string(), vec!["a".to_string()])];
        let items = build_rerank_items(
            &queries,
            &[],
            &NegativeSource::Given(vec![vec!["a".into(), "b".into()]]),
        );
        assert_eq!(items[0].hard_negatives, vec!["b".to_string()]);
    }
}

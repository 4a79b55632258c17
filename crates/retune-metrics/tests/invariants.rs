//! Property tests: metric values stay in [0, 1], cut-off metrics grow with k where they must, a
//! perfect ranking scores 1, and reordering below the last relevant document changes nothing.

use proptest::prelude::*;
use retune_metrics::{Metric, Relevance, evaluate_ranking, standard_metrics};

fn case() -> impl Strategy<Value = (Vec<String>, Relevance)> {
    (1usize..30).prop_flat_map(|n| {
        (
            Just(n),
            proptest::collection::vec(0i64..4, n),
            proptest::collection::vec(any::<bool>(), n),
        )
            .prop_map(|(n, grades, retrieved)| {
                let docs: Vec<String> = (0..n).map(|i| format!("d{i}")).collect();
                let rel = Relevance::graded(docs.iter().cloned().zip(grades));
                let mut ranked: Vec<String> = docs
                    .iter()
                    .zip(&retrieved)
                    .filter(|(_, r)| **r)
                    .map(|(d, _)| d.clone())
                    .collect();
                ranked.push("unjudged".into());
                (ranked, rel)
            })
    })
}

proptest! {
    #[test]
    fn values_in_unit_interval((ranked, rel) in case()) {
        for v in evaluate_ranking(&ranked, &rel, &standard_metrics()) {
            prop_assert!((0.0..=1.0 + 1e-12).contains(&v), "{v}");
        }
    }

    #[test]
    fn recall_and_hit_rate_grow_with_k((ranked, rel) in case()) {
        let ks: Vec<usize> = (1..=35).collect();
        for make in [Metric::Recall as fn(usize) -> Metric, Metric::HitRate] {
            let metrics: Vec<Metric> = ks.iter().map(|&k| make(k)).collect();
            let v = evaluate_ranking(&ranked, &rel, &metrics);
            prop_assert!(v.windows(2).all(|w| w[0] <= w[1]), "{v:?}");
        }
    }

    #[test]
    fn perfect_ranking_scores_one((_, rel) in case()) {
        let mut docs: Vec<(String, i64)> = (0..40)
            .map(|i| format!("d{i}"))
            .map(|d| { let g = rel.grade(&d); (d, g) })
            .filter(|(_, g)| *g >= 1)
            .collect();
        prop_assume!(!docs.is_empty());
        docs.sort_by_key(|d| std::cmp::Reverse(d.1));
        let ranked: Vec<String> = docs.into_iter().map(|(d, _)| d).collect();
        let metrics = [Metric::Mrr(None), Metric::Map(None), Metric::Ndcg(None),
            Metric::Recall(ranked.len()), Metric::HitRate(1), Metric::Precision(1),
            Metric::Ndcg(Some(3))];
        for (m, v) in metrics.iter().zip(evaluate_ranking(&ranked, &rel, &metrics)) {
            prop_assert!((v - 1.0).abs() < 1e-12, "{m}: {v}");
        }
    }

    #[test]
    fn order_below_last_relevant_is_irrelevant((ranked, rel) in case(), seed in any::<u64>()) {
        let last = ranked.iter().rposition(|d| rel.is_relevant(d));
        let cut = last.map_or(0, |i| i + 1);
        let mut shuffled = ranked.clone();
        let tail = &mut shuffled[cut..];
        // A deterministic permutation of the tail from the seed.
        let len = tail.len();
        for i in (1..len).rev() {
            tail.swap(i, (seed as usize).wrapping_mul(i + 7) % (i + 1));
        }
        let m = standard_metrics();
        let a = evaluate_ranking(&ranked, &rel, &m);
        let b = evaluate_ranking(&shuffled, &rel, &m);
        prop_assert_eq!(a, b);
    }
}

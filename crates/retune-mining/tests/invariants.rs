//! Property tests of mining: no positive (or a text equal to one) is ever returned; with a
//! margin, every negative scores at most the positive minus the margin; rank-window negatives
//! come from inside the window; the same seed gives the same output.

use proptest::prelude::*;
use retune_mining::{MiningConfig, Sampling, Strategy as Window, mine_negatives, normalize_text};

fn unit(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.into_iter().map(|x| x / n).collect()
}

/// Queries, documents, document texts, positives per query.
type World = (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<String>, Vec<Vec<usize>>);

fn world() -> impl Strategy<Value = World> {
    (2usize..6, 3usize..25).prop_flat_map(|(nq, nd)| {
        (
            proptest::collection::vec(proptest::collection::vec(-1.0f32..1.0, 4), nq),
            proptest::collection::vec(proptest::collection::vec(-1.0f32..1.0, 4), nd),
            proptest::collection::vec(0usize..8, nd),
            proptest::collection::vec(proptest::collection::vec(0..nd, 1..3), nq),
        )
            .prop_map(|(q, d, names, pos)| {
                // Few distinct names, so texts equal to a positive's occur.
                let texts = names.iter().map(|n| format!("Cat {n}")).collect();
                (
                    q.into_iter().map(unit).collect(),
                    d.into_iter().map(unit).collect(),
                    texts,
                    pos,
                )
            })
    })
}

proptest! {
    #[test]
    fn never_a_positive_and_windows_hold((q, d, texts, pos) in world(), n in 1usize..6, seed in any::<u64>(), margin in 0.0f32..0.5) {
        let strategies = [Window::Hard, Window::Random, Window::SemiHard { margin }, Window::Range { min: 1, max: 4 }];
        for strategy in strategies {
            let mut config = MiningConfig::new(strategy, n);
            config.seed = seed;
            config.sampling = Sampling::Random;
            let out = mine_negatives(&q, &d, &texts, &pos, &config);
            prop_assert_eq!(&out, &mine_negatives(&q, &d, &texts, &pos, &config));
            for (i, m) in out.iter().enumerate() {
                let pos_texts: Vec<String> = pos[i].iter().map(|&p| normalize_text(&texts[p])).collect();
                for &neg in &m.negatives {
                    prop_assert!(!pos[i].contains(&neg));
                    prop_assert!(!pos_texts.contains(&normalize_text(&texts[neg])));
                }
                prop_assert_eq!(m.negatives.len() + m.shortfall, n);
                if let Window::SemiHard { margin } = strategy {
                    prop_assert!(m.scores.iter().all(|&s| s < m.positive_score && s >= m.positive_score - margin));
                }
            }
        }
        let mut config = MiningConfig::new(Window::Hard, n);
        config.absolute_margin = Some(margin);
        for m in mine_negatives(&q, &d, &texts, &pos, &config) {
            prop_assert!(m.scores.iter().all(|&s| s <= m.positive_score - margin + 1e-6));
        }
    }
}

//! Field dropout: copies of structured queries (one `Key: value` field per line, as
//! [`crate::Transaction::render`] writes them) with some fields left out.
//!
//! A fine-tune on a few hundred transactions can separate its training rows by whichever
//! field happens to tell them apart (often the merchant's own category line); copies with
//! random fields missing make every field carry the label. docs/benchmarks.md measures it on
//! the course data.

use crate::EvalItem;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How many copies of each item, and the chance that a field is left out of a copy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldDropout {
    /// Copies made of each item with at least two fields.
    pub copies: usize,
    /// Probability that each field is left out of a copy, in [0, 1).
    pub rate: f64,
    /// Seed of the choices; the same seed gives the same copies.
    pub seed: u64,
}

impl FieldDropout {
    /// Copies of `items`: for each copy round, every item with two or more non-blank lines, in
    /// order, with each line kept with probability `1 - rate` (one random line when none is
    /// kept). Leading and trailing newlines of the input are kept; items with fewer than two
    /// fields get no copies (there is nothing to leave out). Labels (`expected`) are unchanged.
    ///
    /// # Panics
    /// When `rate` is outside [0, 1); callers check user input with [`FieldDropout::check`].
    pub fn copies_of(&self, items: &[EvalItem]) -> Vec<EvalItem> {
        self.check().expect("field dropout rate");
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xF1E1_D0C0_5EED_0001);
        let split: Vec<Vec<&str>> = items.iter().map(|i| fields(&i.input)).collect();
        let mut out = Vec::new();
        for _ in 0..self.copies {
            for (item, fields) in items.iter().zip(&split) {
                if fields.len() < 2 {
                    continue;
                }
                let mut kept: Vec<&str> = fields
                    .iter()
                    .copied()
                    .filter(|_| !rng.random_bool(self.rate))
                    .collect();
                if kept.is_empty() {
                    kept.push(fields[rng.random_range(0..fields.len())]);
                }
                let lead = if item.input.starts_with('\n') {
                    "\n"
                } else {
                    ""
                };
                let tail = if item.input.ends_with('\n') { "\n" } else { "" };
                out.push(EvalItem {
                    input: format!("{lead}{}{tail}", kept.join("\n")),
                    expected: item.expected.clone(),
                });
            }
        }
        out
    }

    /// An error naming the problem when `rate` is not in [0, 1).
    pub fn check(&self) -> Result<(), String> {
        if (0.0..1.0).contains(&self.rate) {
            Ok(())
        } else {
            Err(format!(
                "field dropout rate must be in [0, 1), got {}",
                self.rate
            ))
        }
    }

    /// Whether any item has two or more fields (so dropout has something to leave out).
    pub fn applies_to(items: &[EvalItem]) -> bool {
        items.iter().any(|i| fields(&i.input).len() >= 2)
    }
}

/// The fields of a query: its non-blank lines, in order.
fn fields(input: &str) -> Vec<&str> {
    input.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(input: &str, label: &str) -> EvalItem {
        EvalItem {
            input: input.into(),
            expected: vec![label.into()],
        }
    }

    fn fixture() -> Vec<EvalItem> {
        vec![
            item(
                "\nName : Tooly\nCategory: Survey Software, SaaS\nDepartment: Marketing\nLocation: San Francisco, CA\nAmount: 2000.0\nCard: Budget\nTrip Name: unknown\n",
                "Subscriptions & Memberships",
            ),
            item("AWS Monthly Usage", "Cloud Infrastructure & Hosting"),
            item("Name : Acme\nAmount: 12.5", "Office Supplies"),
        ]
    }

    #[test]
    fn copies_keep_labels_order_and_a_subset_of_the_fields() {
        let items = fixture();
        let d = FieldDropout {
            copies: 50,
            rate: 0.3,
            seed: 7,
        };
        let copies = d.copies_of(&items);
        assert_eq!(copies.len(), 100, "the one-field item gets no copies");
        let mut dropped = 0;
        let mut total = 0;
        for pair in copies.chunks(2) {
            for (c, orig) in pair.iter().zip([&items[0], &items[2]]) {
                assert_eq!(c.expected, orig.expected);
                assert_eq!(c.input.starts_with('\n'), orig.input.starts_with('\n'));
                assert_eq!(c.input.ends_with('\n'), orig.input.ends_with('\n'));
                let fields: Vec<&str> = orig.input.lines().filter(|l| !l.is_empty()).collect();
                let kept: Vec<&str> = c.input.lines().filter(|l| !l.is_empty()).collect();
                assert!(!kept.is_empty());
                let mut at = 0;
                for k in &kept {
                    let pos = fields[at..].iter().position(|f| f == k).expect("in order");
                    at += pos + 1;
                }
                total += fields.len();
                dropped += fields.len() - kept.len();
            }
        }
        let share = dropped as f64 / total as f64;
        assert!(
            (0.2..0.4).contains(&share),
            "about 30% dropped, got {share}"
        );
        assert_eq!(copies, d.copies_of(&items), "seeded");
        assert_ne!(copies, FieldDropout { seed: 8, ..d }.copies_of(&items));
    }

    #[test]
    fn rate_zero_copies_verbatim_and_bad_rates_are_refused() {
        let items = fixture();
        let d = FieldDropout {
            copies: 2,
            rate: 0.0,
            seed: 1,
        };
        assert_eq!(
            d.copies_of(&items),
            vec![
                items[0].clone(),
                items[2].clone(),
                items[0].clone(),
                items[2].clone()
            ]
        );
        for rate in [1.0, -0.1, f64::NAN] {
            let err = FieldDropout { rate, ..d }.check().unwrap_err();
            assert!(err.contains("[0, 1)"), "{err}");
        }
        assert!(FieldDropout::applies_to(&items));
        assert!(!FieldDropout::applies_to(&items[1..2]));
    }
}

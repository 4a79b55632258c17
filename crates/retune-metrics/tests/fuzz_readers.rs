//! The TREC readers take random bytes and random whitespace-separated fields without a panic:
//! a qrels or run, or an error naming the line.

use proptest::prelude::*;
use retune_metrics::{read_qrels, read_run};

fn read_both(bytes: &[u8]) {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    let _ = read_qrels(f.path());
    let _ = read_run(f.path());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        read_both(&bytes);
    }

    #[test]
    fn random_fields_never_panic(
        lines in prop::collection::vec(
            prop::collection::vec("[a-z0-9.eE+-]{0,6}|NaN|inf|-0|\u{feff}q", 0..8),
            0..10,
        )
    ) {
        let text: Vec<String> = lines.iter().map(|l| l.join(" ")).collect();
        read_both(text.join("\n").as_bytes());
    }
}

//! Many transactions: categories in turn until each has its share of `count`, a bounded number
//! of requests in flight, each valid answer appended and flushed before the next is taken, and
//! a rerun that continues where the last stopped (what is in the output counts; a torn last
//! line is set aside; near-duplicates of anything written are asked again, a few times).

use super::ask::{AskConfig, AskOutcome, Usage, ask_transaction};
use super::draft::dedup_key;
use super::prompts::PromptTemplate;
use crate::corpus::Category;
use crate::error::DataError;
use crate::jsonl::{JsonlAppender, ReadMode, read_jsonl};
use crate::llm::Llm;
use crate::transaction::Transaction;
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Mutex;

/// Settings of a generation run.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Transactions the output should hold when done (existing ones count).
    pub count: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// One request's settings.
    pub ask: AskConfig,
    /// Approved examples shown per prompt (the `ambiguous` prompt).
    pub few_shot: usize,
    /// Seed of the few-shot sampling.
    pub seed: u64,
    /// A slot whose answers keep duplicating earlier ones is given up after this many.
    pub max_duplicate_retries: u32,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self {
            count: 100,
            concurrency: 4,
            ask: AskConfig::default(),
            few_shot: 10,
            seed: 0,
            max_duplicate_retries: 3,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct GenerateReport {
    /// Valid records already in the output when the run began.
    pub existing: usize,
    /// Records written by this run.
    pub written: usize,
    /// Answers skipped as near-duplicates (each slot was asked again).
    pub duplicates: usize,
    /// Slots given up after repeated duplicates.
    pub duplicate_slots_given_up: usize,
    /// Refusals: category and the model's text.
    pub refused: Vec<(String, String)>,
    /// Answers cut off by the token limit, by category.
    pub truncated: Vec<String>,
    /// Slots still invalid after every re-ask: category and last errors.
    pub invalid: Vec<(String, String)>,
    /// Answers that took more than one attempt.
    pub reasked: usize,
    /// Tokens used.
    pub usage: Usage,
    /// The API error that stopped the run early, if any (records written stay).
    pub error: Option<String>,
    /// Lines of the output that did not parse (left in place, not counted).
    pub unreadable_lines: Vec<usize>,
}

struct Job {
    category: usize,
    prompt: String,
    duplicates: u32,
}

struct State {
    queue: VecDeque<Job>,
    out: JsonlAppender,
    keys: HashSet<String>,
    report: GenerateReport,
    stop: bool,
}

/// How many of `count` go to each of `n` categories: equal shares, the first ones one more.
pub fn shares(count: usize, n: usize) -> Vec<usize> {
    (0..n)
        .map(|i| count / n + usize::from(i < count % n))
        .collect()
}

/// Generates into `output` until it holds `config.count` transactions (or the model fails).
/// `examples` feed the few-shot part of the prompt; `on_record` sees each record written.
pub fn generate<L: Llm>(
    llm: &L,
    categories: &[Category],
    template: &PromptTemplate,
    examples: &[Transaction],
    output: &Path,
    config: &GenerateConfig,
    on_record: &(dyn Fn(&Transaction, usize) + Sync),
) -> Result<GenerateReport, DataError> {
    if categories.is_empty() {
        return Err(DataError::Invalid {
            path: output.to_path_buf(),
            line: 0,
            field: "categories".into(),
            problem: "no categories to generate for".into(),
        });
    }
    let out = JsonlAppender::open(output)?;
    let (existing, bad) = read_jsonl::<Transaction>(output, ReadMode::Lenient)?;
    let mut report = GenerateReport {
        existing: existing.len(),
        unreadable_lines: bad.iter().map(|b| b.line).collect(),
        ..GenerateReport::default()
    };
    let mut have: HashMap<&str, usize> = HashMap::new();
    for t in &existing {
        *have.entry(t.expense_category.as_str()).or_default() += 1;
    }
    let keys: HashSet<String> = existing.iter().map(dedup_key).collect();
    let want = shares(config.count, categories.len());
    let remaining: Vec<usize> = categories
        .iter()
        .zip(&want)
        .map(|(c, w)| w.saturating_sub(have.get(c.category.as_str()).copied().unwrap_or(0)))
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.seed ^ existing.len() as u64);
    let mut queue = VecDeque::new();
    let rounds = remaining.iter().copied().max().unwrap_or(0);
    for r in 0..rounds {
        for (i, c) in categories.iter().enumerate() {
            if remaining[i] > r {
                let shots: Vec<Transaction> = examples
                    .choose_multiple(&mut rng, config.few_shot.min(examples.len()))
                    .cloned()
                    .collect();
                queue.push_back(Job {
                    category: i,
                    prompt: template.render(c, categories, &shots)?,
                    duplicates: 0,
                });
            }
        }
    }
    report.usage = Usage::default();
    let state = Mutex::new(State {
        queue,
        out,
        keys,
        report,
        stop: false,
    });
    let write_error: Mutex<Option<DataError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..config.concurrency.max(1) {
            s.spawn(|| worker(llm, categories, config, &state, &write_error, on_record));
        }
    });
    if let Some(e) = write_error.into_inner().expect("no worker panicked") {
        return Err(e);
    }
    let st = state.into_inner().expect("no worker panicked");
    st.out.sync()?;
    Ok(st.report)
}

fn worker<L: Llm>(
    llm: &L,
    categories: &[Category],
    config: &GenerateConfig,
    state: &Mutex<State>,
    write_error: &Mutex<Option<DataError>>,
    on_record: &(dyn Fn(&Transaction, usize) + Sync),
) {
    loop {
        let job = {
            let mut st = state.lock().expect("state lock");
            if st.stop {
                return;
            }
            match st.queue.pop_front() {
                Some(j) => j,
                None => return,
            }
        };
        let category = &categories[job.category].category;
        let mut usage = Usage::default();
        let outcome = ask_transaction(llm, &job.prompt, category, &config.ask, &mut usage);
        let mut st = state.lock().expect("state lock");
        st.report.usage.prompt_tokens += usage.prompt_tokens;
        st.report.usage.completion_tokens += usage.completion_tokens;
        match outcome {
            Err(e) => {
                st.report.error.get_or_insert_with(|| e.to_string());
                st.stop = true;
            }
            Ok(AskOutcome::Valid {
                transaction,
                attempts,
            }) => {
                let key = dedup_key(&transaction);
                if st.keys.contains(&key) {
                    st.report.duplicates += 1;
                    if job.duplicates < config.max_duplicate_retries {
                        st.queue.push_back(Job {
                            duplicates: job.duplicates + 1,
                            ..job
                        });
                    } else {
                        st.report.duplicate_slots_given_up += 1;
                    }
                    continue;
                }
                if let Err(e) = st.out.append(&transaction) {
                    *write_error.lock().expect("error lock") = Some(e);
                    st.stop = true;
                    return;
                }
                st.keys.insert(key);
                st.report.written += 1;
                if attempts > 1 {
                    st.report.reasked += 1;
                }
                let n = st.report.existing + st.report.written;
                on_record(&transaction, n);
            }
            Ok(AskOutcome::Refused(r)) => st.report.refused.push((category.clone(), r)),
            Ok(AskOutcome::Truncated) => st.report.truncated.push(category.clone()),
            Ok(AskOutcome::Invalid { errors, .. }) => {
                st.report.invalid.push((category.clone(), errors))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{ChatReply, ChatRequest};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers a valid transaction for the category the prompt names, merchant `M{n}`.
    struct Fake {
        n: AtomicUsize,
        repeat_every: usize,
    }

    impl Llm for Fake {
        type Error = std::io::Error;
        fn model_id(&self) -> &str {
            "fake"
        }
        fn chat(&self, req: &ChatRequest) -> Result<ChatReply, std::io::Error> {
            let n = self.n.fetch_add(1, Ordering::SeqCst);
            let prompt = &req.messages[0].content;
            let cat = prompt
                .split('"')
                .nth(1)
                .expect("prompt quotes the category");
            let merchant = if self.repeat_every > 0 && n % self.repeat_every == 1 {
                "M0".to_string()
            } else {
                format!("M{n}")
            };
            let t = Transaction {
                merchant_name: merchant,
                merchant_category: vec!["SaaS".into()],
                department: "IT".into(),
                location: "Austin, TX".into(),
                amount: 10.0 + n as f64,
                spend_program_name: "Budget".into(),
                trip_name: None,
                expense_category: cat.to_string(),
            };
            Ok(ChatReply {
                content: Some(serde_json::to_string(&t).unwrap()),
                finish_reason: Some("stop".into()),
                prompt_tokens: 3,
                completion_tokens: 2,
                ..ChatReply::default()
            })
        }
    }

    fn cats(n: usize) -> Vec<Category> {
        (0..n)
            .map(|i| Category {
                category: format!("Cat{i}"),
                sample_transactions: vec![],
                departments: vec![],
                description: None,
            })
            .collect()
    }

    fn template() -> PromptTemplate {
        PromptTemplate::builtin(super::super::prompts::PromptKind::Transaction)
    }

    #[test]
    fn shares_are_equal_with_the_rest_first() {
        assert_eq!(shares(10, 3), vec![4, 3, 3]);
        assert_eq!(shares(2, 3), vec![1, 1, 0]);
    }

    #[test]
    fn fills_shares_then_a_larger_count_continues_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("g.jsonl");
        let llm = Fake {
            n: AtomicUsize::new(0),
            repeat_every: 0,
        };
        let mut config = GenerateConfig {
            count: 7,
            concurrency: 3,
            ..GenerateConfig::default()
        };
        let r = generate(&llm, &cats(3), &template(), &[], &out, &config, &|_, _| {}).unwrap();
        assert_eq!((r.existing, r.written), (0, 7));
        assert_eq!(r.usage.prompt_tokens, 21);
        config.count = 12;
        let r = generate(&llm, &cats(3), &template(), &[], &out, &config, &|_, _| {}).unwrap();
        assert_eq!((r.existing, r.written), (7, 5));
        let (all, _) = read_jsonl::<Transaction>(&out, ReadMode::Strict).unwrap();
        assert_eq!(all.len(), 12);
        let keys: HashSet<String> = all.iter().map(dedup_key).collect();
        assert_eq!(keys.len(), 12);
        for c in ["Cat0", "Cat1", "Cat2"] {
            assert_eq!(all.iter().filter(|t| t.expense_category == c).count(), 4);
        }
        // done: nothing more to ask
        let r = generate(&llm, &cats(3), &template(), &[], &out, &config, &|_, _| {}).unwrap();
        assert_eq!(r.written, 0);
    }

    #[test]
    fn near_duplicates_are_skipped_and_asked_again() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("g.jsonl");
        let llm = Fake {
            n: AtomicUsize::new(0),
            repeat_every: 3,
        };
        let config = GenerateConfig {
            count: 6,
            concurrency: 1,
            ..GenerateConfig::default()
        };
        let r = generate(&llm, &cats(2), &template(), &[], &out, &config, &|_, _| {}).unwrap();
        assert_eq!(r.written, 6);
        assert!(r.duplicates >= 1, "{r:?}");
        let (all, _) = read_jsonl::<Transaction>(&out, ReadMode::Strict).unwrap();
        assert_eq!(all.iter().map(dedup_key).collect::<HashSet<_>>().len(), 6);
    }

    #[test]
    fn a_torn_last_line_is_set_aside_and_not_counted() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("g.jsonl");
        let llm = Fake {
            n: AtomicUsize::new(0),
            repeat_every: 0,
        };
        let config = GenerateConfig {
            count: 2,
            ..GenerateConfig::default()
        };
        generate(&llm, &cats(1), &template(), &[], &out, &config, &|_, _| {}).unwrap();
        let mut text = std::fs::read_to_string(&out).unwrap();
        text.push_str("{\"merchant_name\":\"tor");
        std::fs::write(&out, text).unwrap();
        let config = GenerateConfig { count: 3, ..config };
        let r = generate(&llm, &cats(1), &template(), &[], &out, &config, &|_, _| {}).unwrap();
        assert_eq!((r.existing, r.written), (2, 1));
        assert!(dir.path().join("g.jsonl.partial").exists());
    }
}

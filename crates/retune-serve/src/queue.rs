//! The batching queue: concurrent requests of tokenized texts are packed into batches of at
//! most `max_batch_tokens` real tokens (the fused engine does not pad, so real tokens are what a
//! batch costs) and run one batch at a time on one worker thread that owns the model; each
//! request is answered from its slice of the batch. A request whose caller has gone (a client
//! that disconnected) is dropped before its batch runs. It needs no HTTP: a Rust service can
//! submit to it directly ([`Queue::submit`], [`Queue::submit_blocking`]).

use crate::ServeError;
use retune_trainer::Tokens;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// A model that runs one batch of tokenized rows, one output per row in order.
pub trait BatchModel: Send + 'static {
    /// What one row gives: an embedding, a score.
    type Output: Send + 'static;
    /// Runs `rows` as one batch.
    fn run(&self, rows: &[Tokens]) -> Result<Vec<Self::Output>, ServeError>;
}

/// Told about every batch the worker runs (the server's metrics listen here).
pub trait BatchObserver: Send + Sync {
    /// One batch: its requests, rows, real tokens and inference time.
    fn batch(&self, requests: usize, rows: usize, tokens: usize, inference: Duration);
}

/// How batches are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Real tokens per batch (a single request over it still runs, alone).
    pub max_batch_tokens: usize,
    /// Requests per batch, when bounded.
    pub max_batch_requests: Option<usize>,
}

impl Default for QueueConfig {
    /// 16,384 tokens, no request bound (text-embeddings-inference's defaults).
    fn default() -> Self {
        Self {
            max_batch_tokens: 16_384,
            max_batch_requests: None,
        }
    }
}

/// One request's answer and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<O> {
    /// One output per row, in the request's order.
    pub outputs: Vec<O>,
    /// Real tokens of the request's rows.
    pub tokens: usize,
    /// From submission to the start of its batch.
    pub queue_time: Duration,
    /// The whole batch's run time.
    pub inference_time: Duration,
}

struct Job<O> {
    rows: Vec<Tokens>,
    tokens: usize,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Answer<O>, ServeError>>,
}

/// A handle to a running queue; cheap to clone. The worker stops once every handle is dropped
/// and what was queued has run.
pub struct Queue<O> {
    tx: mpsc::Sender<Job<O>>,
    depth: Arc<AtomicUsize>,
}

impl<O> Clone for Queue<O> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            depth: self.depth.clone(),
        }
    }
}

impl<O: Send + 'static> Queue<O> {
    /// Starts the worker thread that owns `model`.
    pub fn start<M: BatchModel<Output = O>>(
        model: M,
        config: QueueConfig,
        observer: Option<Arc<dyn BatchObserver>>,
    ) -> Self {
        let (tx, rx) = mpsc::channel::<Job<O>>();
        let depth = Arc::new(AtomicUsize::new(0));
        let worker = Worker {
            model,
            config,
            observer,
            depth: depth.clone(),
        };
        std::thread::Builder::new()
            .name("retune-queue".into())
            .spawn(move || worker.run(&rx))
            .expect("spawning the queue's worker thread");
        Self { tx, depth }
    }

    /// Requests waiting for a batch.
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    fn send(
        &self,
        rows: Vec<Tokens>,
    ) -> Result<oneshot::Receiver<Result<Answer<O>, ServeError>>, ServeError> {
        let (reply, rx) = oneshot::channel();
        let tokens = rows.iter().map(|r| r.ids.len()).sum();
        self.depth.fetch_add(1, Ordering::Relaxed);
        let job = Job {
            rows,
            tokens,
            enqueued: Instant::now(),
            reply,
        };
        self.tx.send(job).map_err(|_| {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            stopped()
        })?;
        Ok(rx)
    }

    /// Queues `rows` and waits for their outputs. Dropping the future withdraws the request.
    pub async fn submit(&self, rows: Vec<Tokens>) -> Result<Answer<O>, ServeError> {
        self.send(rows)?.await.map_err(|_| stopped())?
    }

    /// As [`submit`](Self::submit), blocking the calling thread (not for async contexts).
    pub fn submit_blocking(&self, rows: Vec<Tokens>) -> Result<Answer<O>, ServeError> {
        self.send(rows)?.blocking_recv().map_err(|_| stopped())?
    }
}

fn stopped() -> ServeError {
    ServeError::Unhealthy {
        reason: "the batching queue's worker has stopped".into(),
    }
}

struct Worker<M: BatchModel> {
    model: M,
    config: QueueConfig,
    observer: Option<Arc<dyn BatchObserver>>,
    depth: Arc<AtomicUsize>,
}

impl<M: BatchModel> Worker<M> {
    fn run(self, rx: &mpsc::Receiver<Job<M::Output>>) {
        let mut carry = None;
        loop {
            let first = match carry.take() {
                Some(job) => job,
                None => match rx.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                },
            };
            let batch = self.pack(first, rx, &mut carry);
            self.depth.fetch_sub(batch.len(), Ordering::Relaxed);
            self.answer(batch);
        }
    }

    /// `first` and what else is waiting, up to the token and request bounds; the first job
    /// that does not fit is kept in `carry` for the next batch.
    fn pack(
        &self,
        first: Job<M::Output>,
        rx: &mpsc::Receiver<Job<M::Output>>,
        carry: &mut Option<Job<M::Output>>,
    ) -> Vec<Job<M::Output>> {
        let mut tokens = first.tokens;
        let mut batch = vec![first];
        let max_requests = self.config.max_batch_requests.unwrap_or(usize::MAX);
        while batch.len() < max_requests {
            let Ok(job) = rx.try_recv() else { break };
            if tokens + job.tokens > self.config.max_batch_tokens {
                *carry = Some(job);
                break;
            }
            tokens += job.tokens;
            batch.push(job);
        }
        batch
    }

    fn answer(&self, mut batch: Vec<Job<M::Output>>) {
        batch.retain(|job| !job.reply.is_closed());
        if batch.is_empty() {
            return;
        }
        let started = Instant::now();
        let sizes: Vec<usize> = batch.iter().map(|j| j.rows.len()).collect();
        let mut rows = Vec::with_capacity(sizes.iter().sum());
        for job in &mut batch {
            rows.append(&mut job.rows);
        }
        let result = self.model.run(&rows).and_then(|out| {
            if out.len() == rows.len() {
                Ok(out)
            } else {
                Err(ServeError::Backend {
                    message: format!("{} outputs for {} rows", out.len(), rows.len()),
                })
            }
        });
        let inference = started.elapsed();
        if let Some(o) = &self.observer {
            let tokens = batch.iter().map(|j| j.tokens).sum();
            o.batch(batch.len(), rows.len(), tokens, inference);
        }
        match result {
            Ok(outputs) => {
                let mut outputs = outputs.into_iter();
                for (job, n) in batch.into_iter().zip(sizes) {
                    let answer = Answer {
                        outputs: outputs.by_ref().take(n).collect(),
                        tokens: job.tokens,
                        queue_time: started.duration_since(job.enqueued),
                        inference_time: inference,
                    };
                    let _ = job.reply.send(Ok(answer));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for job in batch {
                    let _ = job.reply.send(Err(ServeError::Backend {
                        message: message.clone(),
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Echoes each row's first id; records every batch's ids; the first batch says it has
    /// started, then waits until released, so that everything submitted meanwhile queues up
    /// behind it.
    struct Recorder {
        batches: Batches,
        gate: Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>,
    }

    impl BatchModel for Recorder {
        type Output = u32;
        fn run(&self, rows: &[Tokens]) -> Result<Vec<u32>, ServeError> {
            if let Some((started, gate)) = self.gate.lock().unwrap().take() {
                started.send(()).unwrap();
                gate.recv().unwrap();
            }
            let ids: Vec<u32> = rows.iter().map(|r| r.ids[0]).collect();
            self.batches.lock().unwrap().push(ids.clone());
            Ok(ids)
        }
    }

    fn row(id: u32, len: usize) -> Tokens {
        Tokens {
            ids: vec![id; len],
            type_ids: vec![0; len],
            truncated: false,
        }
    }

    type Batches = Arc<Mutex<Vec<Vec<u32>>>>;

    /// A recorder whose first batch blocks: (model, its batches, "started", "release").
    fn gated() -> (Recorder, Batches, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let (release, gate) = mpsc::channel();
        let (started_tx, started) = mpsc::channel();
        let model = Recorder {
            batches: batches.clone(),
            gate: Mutex::new(Some((started_tx, gate))),
        };
        (model, batches, started, release)
    }

    fn wait_for_depth(q: &Queue<u32>, depth: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while q.depth() != depth {
            assert!(
                Instant::now() < deadline,
                "depth {} never reached {depth}",
                q.depth()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn waiting_requests_are_packed_up_to_the_token_bound_and_answered_from_their_slices() {
        let (model, batches, started, release) = gated();
        let config = QueueConfig {
            max_batch_tokens: 40,
            max_batch_requests: None,
        };
        let q = Queue::start(model, config, None);
        std::thread::scope(|s| {
            let first = s.spawn(|| q.submit_blocking(vec![row(0, 10)]).unwrap());
            started.recv().unwrap();
            // Nine requests of two rows of 5 tokens (10 each) wait behind the first batch.
            let waiting: Vec<_> = (1..10u32)
                .map(|i| {
                    let q = &q;
                    let h = s.spawn(move || {
                        q.submit_blocking(vec![row(i * 10, 5), row(i * 10 + 1, 5)])
                            .unwrap()
                    });
                    wait_for_depth(q, i as usize);
                    h
                })
                .collect();
            release.send(()).unwrap();
            assert_eq!(first.join().unwrap().outputs, vec![0]);
            for (i, h) in (1..10u32).zip(waiting) {
                let answer = h.join().unwrap();
                assert_eq!(answer.outputs, vec![i * 10, i * 10 + 1]);
                assert_eq!(answer.tokens, 10);
            }
        });
        let sizes: Vec<usize> = batches.lock().unwrap().iter().map(Vec::len).collect();
        // 40 tokens a batch: four requests of 10 tokens (8 rows), in arrival order.
        assert_eq!(sizes, vec![1, 8, 8, 2]);
    }

    #[test]
    fn a_withdrawn_request_never_runs() {
        let (model, batches, started, release) = gated();
        let q = Queue::start(model, QueueConfig::default(), None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        std::thread::scope(|s| {
            let first = s.spawn(|| q.submit_blocking(vec![row(1, 3)]).unwrap());
            started.recv().unwrap();
            // A caller that gives up (a client that disconnected) while it waits.
            rt.block_on(async {
                let gone = q.submit(vec![row(2, 3)]);
                let _ = tokio::time::timeout(Duration::from_millis(1), gone).await;
            });
            let kept = s.spawn(|| q.submit_blocking(vec![row(3, 3)]).unwrap());
            wait_for_depth(&q, 2);
            release.send(()).unwrap();
            first.join().unwrap();
            assert_eq!(kept.join().unwrap().outputs, vec![3]);
        });
        assert_eq!(*batches.lock().unwrap(), vec![vec![1], vec![3]]);
    }
}

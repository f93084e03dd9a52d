//! Shadow evaluation: a candidate policy (`[shadow] policy`) sees every sampled filtered body
//! too, and what it would have done differently is counted — before the candidate is promoted
//! (promoting it is a reload with it as the policy).
//!
//! The live response is never touched and never waits: the body's chunks (`Bytes`, shared, not
//! copied) are offered to one shadow thread through a bounded queue that never blocks and never
//! wakes the thread per message ([`queue`]). When the queue is full the body's shadow is
//! abandoned and counted (`sluice_shadow_bodies_total` `result="skipped"`), so the shadow's cost
//! is bounded by the sampling rate, one thread (at most one core) and the queue, whatever the
//! load. The thread runs the candidate's
//! [`Redactor`](sluice_policy::engine::Redactor) on the same bytes, compares the two results
//! ([`compare`]) and counts the differences per contract, route, path and kind on `/metrics`,
//! and appends one line per differing body to a side file that `sluice policy shadow-report`
//! summarises. Paths, kinds and counts only: never a value.

pub mod compare;
mod queue;
pub mod report;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use sluice_policy::engine::{EngineConfig, EngineKeys, Limits};
use sluice_policy::{CompiledPolicy, Resolved};

use crate::metrics::Metrics;

/// A candidate policy with its contracts' engine keys (derived as the live policy's are).
#[derive(Debug)]
pub struct Candidate {
    /// The policy.
    pub policy: Arc<CompiledPolicy>,
    /// Engine keys by contract id.
    pub keys: HashMap<String, Arc<EngineKeys>>,
    /// Series labels by contract id, one per route (built once, not per body).
    labels: HashMap<String, Vec<Arc<Labels>>>,
}

impl Candidate {
    /// The candidate `policy` with its contracts' `keys`.
    pub fn new(policy: CompiledPolicy, keys: HashMap<String, Arc<EngineKeys>>) -> Self {
        let version = policy.version.to_string();
        let labels = policy
            .contracts
            .iter()
            .map(|c| {
                let routes = c
                    .routes
                    .iter()
                    .map(|r| {
                        Arc::new(Labels {
                            contract: c.id.clone(),
                            route: r.path.as_str().to_owned(),
                            candidate: version.clone(),
                        })
                    })
                    .collect();
                (c.id.clone(), routes)
            })
            .collect();
        Candidate {
            policy: Arc::new(policy),
            keys,
            labels,
        }
    }
}

/// Which series a body's results go to.
#[derive(Debug, Clone)]
pub(crate) struct Labels {
    pub(crate) contract: String,
    pub(crate) route: String,
    pub(crate) candidate: String,
}

/// Shared by a tap and the thread: the tap has sent its end (so a tap dropped without one,
/// after a failure or a full queue, is swept).
#[derive(Debug, Default)]
pub(crate) struct TapState {
    pub(crate) ended: AtomicBool,
}

pub(crate) enum Msg {
    Start {
        id: u64,
        labels: Arc<Labels>,
        cfg: Box<EngineConfig>,
        state: Arc<TapState>,
    },
    Chunk {
        id: u64,
        data: Bytes,
    },
    End {
        id: u64,
        live: compare::Result,
    },
    /// The candidate has no route for the request: it would refuse whatever the body.
    Unroutable {
        labels: Arc<Labels>,
    },
}

/// The shadow thread's queue and the sampler.
#[derive(Debug)]
pub struct Runner {
    queue: Arc<queue::Queue>,
    sample: f64,
    seen: AtomicU64,
    next_id: AtomicU64,
    metrics: Metrics,
}

impl Runner {
    /// Starts the shadow thread, which appends differing bodies to `report`.
    pub fn start(cfg: &crate::config::ShadowConfig, metrics: Metrics) -> std::io::Result<Self> {
        let queue = Arc::<queue::Queue>::default();
        let (thread_queue, thread_metrics) = (queue.clone(), metrics.clone());
        let report = cfg.report.clone();
        std::thread::Builder::new()
            .name("sluice-shadow".into())
            .spawn(move || worker::run(&thread_queue, thread_metrics, report))?;
        Ok(Runner {
            queue,
            sample: cfg.sample,
            seen: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            metrics,
        })
    }

    /// Whether this body is sampled: exactly `sample` of them, evenly spread.
    fn sampled(&self) -> bool {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * self.sample).floor() > (n * self.sample).floor()
    }

    /// A tap for one body filtered under `live`, or `None` when the body is not sampled.
    pub fn tap(
        &self,
        candidate: &Candidate,
        live: &Resolved<'_>,
        method: &str,
        path: &str,
        media: crate::body::Media,
    ) -> Option<Tap> {
        if !self.sampled() {
            return None;
        }
        let found = candidate.policy.contract(&live.contract.id).and_then(|c| {
            let i = c.routes.iter().position(|r| {
                r.flow == live.route.flow && r.method == method && r.path.matches(path)
            })?;
            let labels = candidate.labels.get(&c.id)?.get(i)?;
            Some((&c.routes[i], labels.clone(), candidate.keys.get(&c.id)?))
        });
        let Some((route, labels, keys)) = found else {
            let labels = Arc::new(Labels {
                contract: live.contract.id.clone(),
                route: live.route.path.as_str().to_owned(),
                candidate: candidate.policy.version.to_string(),
            });
            if !self.queue.push(Msg::Unroutable { labels }, 0) {
                self.skipped(&live.contract.id, live.route.path.as_str());
            }
            return None;
        };
        let cfg = EngineConfig {
            program: route.program.clone(),
            format: media.format(),
            limits: Limits::default(),
            keys: keys.clone(),
            consent: None,
            charset: media.charset,
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::<TapState>::default();
        let start = Msg::Start {
            id,
            labels: labels.clone(),
            cfg: Box::new(cfg),
            state: state.clone(),
        };
        let mut tap = Tap {
            id,
            queue: self.queue.clone(),
            state,
            broken: false,
            labels,
            metrics: self.metrics.clone(),
        };
        tap.send(start, 0);
        Some(tap)
    }

    fn skipped(&self, contract: &str, route: &str) {
        self.metrics.shadow_body(contract, route, "skipped");
    }
}

/// One body's line to the shadow thread.
#[derive(Debug)]
pub struct Tap {
    id: u64,
    queue: Arc<queue::Queue>,
    state: Arc<TapState>,
    /// A message could not be queued: nothing more is sent for this body.
    broken: bool,
    labels: Arc<Labels>,
    metrics: Metrics,
}

impl Tap {
    fn send(&mut self, msg: Msg, bytes: usize) {
        if self.broken {
            return;
        }
        if !self.queue.push(msg, bytes) {
            self.broken = true;
            self.state.ended.store(false, Ordering::Release);
            self.metrics
                .shadow_body(&self.labels.contract, &self.labels.route, "skipped");
        }
    }

    /// The next chunk of the body, as the live engine receives it.
    pub fn chunk(&mut self, data: &Bytes) {
        let id = self.id;
        self.send(
            Msg::Chunk {
                id,
                data: data.clone(),
            },
            data.len(),
        );
    }

    /// The live engine's result: the shadow thread compares.
    pub fn end(&mut self, live: compare::Result) {
        self.state.ended.store(true, Ordering::Release);
        let id = self.id;
        self.send(Msg::End { id, live }, 0);
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("shadow::Msg")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sampler_takes_exactly_the_fraction_evenly() {
        for (sample, want) in [(0.0, 0), (0.25, 25), (0.5, 50), (1.0, 100)] {
            let cfg = crate::config::ShadowConfig {
                policy: "unused.toml".into(),
                sample,
                report: std::env::temp_dir().join("sluice-shadow-sampler.jsonl"),
            };
            let r = Runner::start(&cfg, Metrics::default()).unwrap();
            let taken: Vec<bool> = (0..100).map(|_| r.sampled()).collect();
            assert_eq!(taken.iter().filter(|&&t| t).count(), want, "{sample}");
            if sample == 0.25 {
                assert!(
                    taken
                        .chunks(4)
                        .all(|c| c.iter().filter(|&&t| t).count() == 1)
                );
            }
        }
    }
}

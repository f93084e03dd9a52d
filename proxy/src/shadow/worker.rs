//! The shadow thread: one candidate [`Redactor`] per sampled body in flight, fed the chunks the
//! live engine gets; at the body's end the two results are compared, counted and, when they
//! differ, appended to the side file (one JSON line: time, candidate, contract, route and the
//! differences' paths and kinds). Bodies whose tap went away without an end (a failed source,
//! a full queue) are swept at most once a second, after a batch.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sluice_policy::engine::Redactor;

use super::compare::{self, Difference};
use super::{Labels, Msg, TapState};
use crate::metrics::Metrics;

struct Body {
    labels: Arc<Labels>,
    redactor: Redactor,
    /// The candidate refused the body part-way (later chunks are not fed).
    refused: Option<compare::Result>,
    state: Arc<TapState>,
}

struct Worker {
    bodies: HashMap<u64, Body>,
    metrics: Metrics,
    report: PathBuf,
    file: Option<std::fs::File>,
    scratch: Vec<u8>,
}

pub(super) fn run(queue: &super::queue::Queue, metrics: Metrics, report: PathBuf) {
    let mut w = Worker {
        bodies: HashMap::new(),
        metrics,
        report,
        file: None,
        scratch: Vec::new(),
    };
    let mut swept = Instant::now();
    let mut batch = Vec::new();
    while queue.take(&mut batch).is_some() {
        for msg in batch.drain(..) {
            w.handle(msg);
        }
        if swept.elapsed() >= Duration::from_secs(1) {
            // A tap dropped without its end: only the thread holds its state now.
            w.bodies.retain(|_, b| {
                Arc::strong_count(&b.state) > 1 || b.state.ended.load(Ordering::Acquire)
            });
            swept = Instant::now();
        }
    }
}

impl Worker {
    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Start {
                id,
                labels,
                cfg,
                state,
            } => {
                let body = Body {
                    labels,
                    redactor: Redactor::new(*cfg),
                    refused: None,
                    state,
                };
                self.bodies.insert(id, body);
            }
            Msg::Chunk { id, data } => {
                if let Some(b) = self.bodies.get_mut(&id)
                    && b.refused.is_none()
                {
                    self.scratch.clear();
                    if let Err(v) = b.redactor.feed(&data, &mut self.scratch) {
                        b.refused = Some(compare::Result::Refused(v.kind.code(), v.path));
                    }
                    let _ = b.redactor.take_subjects();
                }
            }
            Msg::End { id, live } => {
                let Some(mut b) = self.bodies.remove(&id) else {
                    return;
                };
                let candidate = match b.refused.take() {
                    Some(r) => r,
                    None => {
                        self.scratch.clear();
                        match b.redactor.finish(&mut self.scratch) {
                            Ok(s) => compare::Result::Passed(s.fields, s.output_sha256),
                            Err(v) => compare::Result::Refused(v.kind.code(), v.path),
                        }
                    }
                };
                let differences = compare::compare(&live, &candidate);
                self.record(&b.labels, &differences);
            }
            Msg::Unroutable { labels } => {
                let d = Difference {
                    path: "$".into(),
                    kind: "would_refuse",
                };
                self.record(&labels, &[d]);
            }
        }
    }

    fn record(&mut self, l: &Labels, differences: &[Difference]) {
        let result = if differences.is_empty() {
            "same"
        } else {
            "different"
        };
        self.metrics.shadow_body(&l.contract, &l.route, result);
        for d in differences {
            self.metrics
                .shadow_difference(&l.contract, &l.route, &d.path, d.kind);
        }
        if !differences.is_empty() {
            let line = super::report::line(l, differences);
            if let Err(e) = self.append(&line) {
                tracing::warn!(file = %self.report.display(), error = %e, "the shadow report could not be written");
            }
        }
    }

    fn append(&mut self, line: &str) -> std::io::Result<()> {
        if self.file.is_none() {
            if let Some(dir) = self.report.parent() {
                std::fs::create_dir_all(dir)?;
            }
            self.file = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.report)?,
            );
        }
        let f = self.file.as_mut().expect("opened above");
        f.write_all(line.as_bytes())
    }
}

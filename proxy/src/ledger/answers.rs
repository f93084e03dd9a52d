//! The writer's answers to waited appends, handed to the serving runtime in one wake-up per
//! batch.
//!
//! A batch answers every `disclosure.begin` that waited for it. Completing each waiter's channel
//! from the writer's thread wakes each waiting task from outside the runtime: a push onto the
//! runtime's shared queue per task and, on a current-thread runtime, a write to the runtime's
//! event fd per task as well (a wake from another thread cannot know the runtime is already
//! awake). At small bodies that was a system call per request on the writer's thread and one
//! more event for the runtime to read. Instead the writer hands the batch's answers to one task
//! on the runtime, which completes the channels there: one cross-thread wake-up per batch, and
//! the waiters are woken as local tasks.
//!
//! The answering task runs on the runtime the ledger was opened on (the serving runtime, which
//! runs until the process stops); a ledger opened outside any runtime answers from the writer's
//! thread. A thread that blocks for its answer ([`Done::Thread`]: start-up, reloads) is always
//! answered from the writer's thread — it may be the runtime's own thread, which could not run
//! the answering task while it blocks. When the answering task is gone (the runtime shut down),
//! the writer answers every waiter itself.
//!
//! A `disclosure.begin` whose waiter went away before its answer ([`Done::Begin`]) is ended as
//! `client_gone` (nothing was sent; see `Ledger::append_begin`). The writer sees most of them
//! itself (the channel is closed when it answers) and queues the end at once, so it is in the
//! log however soon the ledger closes; a waiter that goes away between the writer's look and the
//! answering task's send is ended by that task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::entry::{End, Entry, Outcome};
use super::error::LedgerError;
use super::queue::Queue;
use super::writer::Job;

/// An append's answer: its sequence number, or why it failed.
pub(super) type Answer = Result<u64, LedgerError>;

/// Who waits for an append, and so how it is answered.
pub(super) enum Done {
    /// A task (`Ledger::append`): answered with its batch, on the runtime.
    Task(oneshot::Sender<Answer>),
    /// A task waiting for a `disclosure.begin`'s number (`Ledger::append_begin`): as a task,
    /// and ended as `client_gone` if it went away.
    Begin(oneshot::Sender<Answer>),
    /// A blocked thread (`Ledger::append_blocking`): answered from the writer's thread.
    Thread(std::sync::mpsc::Sender<Answer>),
}

impl Done {
    /// Gives `answer` to the waiter; a begin's waiter that went away is ended as `client_gone`
    /// in `queue`.
    fn give(self, answer: Answer, queue: &Queue) {
        match self {
            Done::Task(tx) => drop(tx.send(answer)),
            Done::Thread(tx) => drop(tx.send(answer)),
            Done::Begin(tx) => {
                if let Err(Ok(seq)) = tx.send(answer) {
                    queue.push_owed(Job {
                        entry: client_gone(seq),
                        done: None,
                    });
                }
            }
        }
    }

    /// Whether nobody waits for the answer any more.
    fn abandoned(&self) -> bool {
        match self {
            Done::Task(tx) | Done::Begin(tx) => tx.is_closed(),
            Done::Thread(_) => false,
        }
    }
}

/// The end of the disclosure begun at `seq` whose request went away before anything was sent.
pub(super) fn client_gone(seq: u64) -> Entry {
    Entry::End(Box::new(End::new(seq, Outcome::ClientGone)))
}

/// Gives each answer of `batch` to its waiter.
fn give_all(batch: Vec<(Done, Answer)>, queue: &Queue) {
    for (done, answer) in batch {
        done.give(answer, queue);
    }
}

/// The answers waiting for the runtime's answering task, and its wake-up.
#[derive(Default)]
pub(super) struct Mailbox {
    answers: Mutex<Vec<(Done, Answer)>>,
    wake: tokio::sync::Notify,
    /// The answering task is gone (its runtime shut down): the writer answers itself.
    task_gone: AtomicBool,
    /// The ledger closed: the answering task stops once the mailbox is empty.
    closed: AtomicBool,
}

impl Mailbox {
    /// Gives every answer waiting here (the answering task, or `Ledger::close`).
    pub(super) fn deliver(&self, queue: &Queue) {
        give_all(
            std::mem::take(&mut *self.answers.lock().unwrap_or_else(|e| e.into_inner())),
            queue,
        );
    }

    /// The ledger is closing: its answering task stops.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }
}

/// Marks the mailbox's task as gone when the task is dropped (finished, or its runtime shut
/// down).
struct TaskGuard(Arc<Mailbox>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.task_gone.store(true, Ordering::Release);
    }
}

/// The answers of the batch being committed, and the way to the runtime's answering task.
pub(super) struct Answers {
    queue: Arc<Queue>,
    /// `None`: no runtime to answer on.
    mailbox: Option<Arc<Mailbox>>,
    pending: Vec<(Done, Answer)>,
}

impl Answers {
    /// Answers through a task on the current runtime, if there is one, else from the writer's
    /// thread only; owed ends go to `queue`. The mailbox is the ledger's, for `Ledger::close`.
    pub(super) fn new(queue: Arc<Queue>) -> (Self, Option<Arc<Mailbox>>) {
        let mailbox = tokio::runtime::Handle::try_current().ok().map(|handle| {
            let mailbox = Arc::new(Mailbox::default());
            let guard = TaskGuard(mailbox.clone());
            let queue = queue.clone();
            handle.spawn(async move {
                let mailbox = &guard.0;
                loop {
                    mailbox.wake.notified().await;
                    mailbox.deliver(&queue);
                    if mailbox.closed.load(Ordering::Acquire) {
                        return;
                    }
                }
            });
            mailbox
        });
        (Answers::with(queue, mailbox.clone()), mailbox)
    }

    fn with(queue: Arc<Queue>, mailbox: Option<Arc<Mailbox>>) -> Self {
        Answers {
            queue,
            mailbox,
            pending: Vec::new(),
        }
    }

    /// Answers `done`: a blocked thread or a waiter that went away at once, a task with the
    /// batch ([`Answers::send`]).
    pub(super) fn answer(&mut self, done: Done, answer: Answer) {
        if self.mailbox.is_none() || matches!(done, Done::Thread(_)) || done.abandoned() {
            done.give(answer, &self.queue);
        } else {
            self.pending.push((done, answer));
        }
    }

    /// Hands the batch's answers to the runtime (one wake-up), or gives them here when its
    /// answering task is gone.
    pub(super) fn send(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        match &self.mailbox {
            Some(m) if !m.task_gone.load(Ordering::Acquire) => {
                m.answers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(batch);
                m.wake.notify_one();
                // Gone meanwhile: nobody would take them.
                if m.task_gone.load(Ordering::Acquire) {
                    m.deliver(&self.queue);
                }
            }
            _ => give_all(batch, &self.queue),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> (Done, oneshot::Receiver<Answer>) {
        let (tx, rx) = oneshot::channel();
        (Done::Task(tx), rx)
    }

    fn answers(queue: &Arc<Queue>) -> (Answers, Arc<Mailbox>) {
        let mailbox = Arc::new(Mailbox::default());
        (Answers::with(queue.clone(), Some(mailbox.clone())), mailbox)
    }

    fn waiting(mailbox: &Mailbox) -> usize {
        mailbox.answers.lock().unwrap().len()
    }

    #[test]
    fn tasks_are_answered_with_their_batch_and_threads_at_once() {
        let queue = Arc::new(Queue::default());
        let (mut answers, mailbox) = answers(&queue);
        let (first, mut first_rx) = task();
        let (thread_tx, thread_rx) = std::sync::mpsc::channel();
        let (second, mut second_rx) = task();
        answers.answer(first, Ok(1));
        answers.answer(Done::Thread(thread_tx), Ok(2));
        answers.answer(second, Ok(3));
        // The thread has its answer; the tasks wait for the batch.
        assert_eq!(thread_rx.try_recv().ok().and_then(Result::ok), Some(2));
        assert_eq!(waiting(&mailbox), 0);
        answers.send();
        assert_eq!(waiting(&mailbox), 2);
        assert!(first_rx.try_recv().is_err());
        mailbox.deliver(&queue);
        assert_eq!(first_rx.try_recv().ok().and_then(Result::ok), Some(1));
        assert_eq!(second_rx.try_recv().ok().and_then(Result::ok), Some(3));
    }

    #[test]
    fn without_the_runtimes_task_the_writer_answers_everyone_itself() {
        let queue = Arc::new(Queue::default());
        let (mut answers, mailbox) = answers(&queue);
        mailbox.task_gone.store(true, Ordering::Release); // the runtime shut down
        let (done, mut rx) = task();
        answers.answer(done, Ok(7));
        answers.send();
        assert_eq!(rx.try_recv().ok().and_then(Result::ok), Some(7));
        let mut plain = Answers::with(queue, None);
        let (done, mut rx) = task();
        plain.answer(done, Ok(8));
        assert_eq!(rx.try_recv().ok().and_then(Result::ok), Some(8));
    }

    #[test]
    fn a_begin_whose_waiter_went_away_is_ended_by_the_writer_not_the_runtime() {
        let queue = Arc::new(Queue::default());
        let (mut answers, mailbox) = answers(&queue);
        let (tx, rx) = oneshot::channel();
        drop(rx);
        answers.answer(Done::Begin(tx), Ok(5));
        answers.send();
        // Nothing for the runtime; the end is queued for the writer already.
        assert_eq!(waiting(&mailbox), 0);
        assert_eq!(queue.queued(), 1);
    }

    #[tokio::test]
    async fn the_runtimes_task_answers_a_batch_and_stops_when_the_ledger_closes() {
        let queue = Arc::new(Queue::default());
        let (mut answers, mailbox) = Answers::new(queue.clone());
        let mailbox = mailbox.expect("on a runtime");
        let (done, rx) = task();
        answers.answer(done, Ok(4));
        answers.send();
        assert_eq!(rx.await.ok().and_then(Result::ok), Some(4));
        mailbox.close();
        while !mailbox.task_gone.load(Ordering::Acquire) {
            tokio::task::yield_now().await;
        }
    }
}

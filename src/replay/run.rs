//! The run: an archive's messages over a pool of worker threads, each
//! judged by one policy (or two), the results handed back in input order.
//!
//! One reader thread streams the archive into a bounded channel (so at most
//! a few messages per worker are in memory), the workers share the engines
//! read-only (each was built once), and the calling thread puts results
//! back in order: the JSON lines of a replay are the archive's order
//! whatever the number of cores. `std::thread::scope` and channels are all
//! it takes; a pool crate would add a dependency for nothing here.

use super::archive::Entry;
use super::compare::{self, Difference};
use crate::check::{self, Envelope, Verdict};
use crate::engine::Engine;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;

/// The policy under review, and the one to compare it with.
#[derive(Clone, Copy)]
pub struct Policies<'a> {
    /// The policy under review.
    pub a: &'a Engine,
    /// The policy to compare it with, if any.
    pub b: Option<&'a Engine>,
}

/// How every message is judged.
#[derive(Debug, Clone)]
pub struct Options {
    /// The envelope sender for every message (default: its From header).
    pub from: Option<String>,
    /// The envelope recipients for every message (default: To, Cc, Bcc).
    pub to: Vec<String>,
    /// The day waivers are judged on.
    pub today: NaiveDate,
    /// Threads judging messages at once.
    pub workers: usize,
}

/// One message, judged.
#[derive(Debug)]
pub struct Judged {
    /// Position in the archive, from 0.
    pub(crate) index: u64,
    pub(crate) label: String,
    pub(crate) size: usize,
    pub(crate) outcome: Result<Outcome, String>,
}

/// The verdicts on a message that could be read.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) envelope: Envelope,
    pub(crate) a: Verdict,
    pub(crate) b: Option<Verdict>,
    /// With a second policy, how its verdict differs (`None`: the same).
    pub(crate) difference: Option<Difference>,
}

/// Runs every entry through `policies`, calling `each` on this thread in
/// input order, until the entries end or `stop` is set (the messages in
/// flight are still judged and handed over; a read already under way, as
/// from a stalled pipe, is waited for).
pub fn run(
    policies: Policies,
    entries: impl Iterator<Item = Entry> + Send,
    options: &Options,
    stop: &AtomicBool,
    mut each: impl FnMut(Judged),
) {
    let workers = options.workers.max(1);
    let (work_tx, work_rx) = sync_channel::<(u64, Entry)>(workers * 4);
    let (done_tx, done_rx) = sync_channel::<Judged>(workers * 4);
    let work_rx = Mutex::new(work_rx);
    std::thread::scope(|s| {
        s.spawn(move || {
            for (i, entry) in (0u64..).zip(entries) {
                if stop.load(Ordering::Relaxed) || work_tx.send((i, entry)).is_err() {
                    break;
                }
            }
        });
        for _ in 0..workers {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            s.spawn(move || worker(policies, options, work_rx, done_tx));
        }
        drop(done_tx);
        in_order(done_rx, &mut each);
    });
}

fn worker(
    policies: Policies,
    options: &Options,
    work: &Mutex<Receiver<(u64, Entry)>>,
    done: std::sync::mpsc::SyncSender<Judged>,
) {
    loop {
        // The lock is held only to take one entry, not while judging it.
        let next = work.lock().map(|rx| rx.recv());
        let Ok(Ok((index, entry))) = next else {
            return;
        };
        if done.send(judge(policies, options, index, entry)).is_err() {
            return;
        }
    }
}

/// Hands results over in index order, keeping the early arrivals aside.
fn in_order(done: Receiver<Judged>, each: &mut impl FnMut(Judged)) {
    let mut waiting = BTreeMap::new();
    let mut next = 0u64;
    for judged in done {
        waiting.insert(judged.index, judged);
        while let Some(j) = waiting.remove(&next) {
            each(j);
            next += 1;
        }
    }
    // Only after an interruption can a gap remain; hand over the rest.
    waiting.into_values().for_each(each);
}

fn judge(policies: Policies, options: &Options, index: u64, entry: Entry) -> Judged {
    let size = entry.bytes.as_ref().map_or(0, Vec::len);
    let outcome = entry.bytes.map(|raw| {
        let envelope = Envelope::or_headers(&raw, options.from.clone(), options.to.clone());
        let a = check::check(policies.a, &envelope, &raw, options.today);
        let b = policies
            .b
            .map(|b| check::check(b, &envelope, &raw, options.today));
        let difference = b.as_ref().and_then(|b| compare::difference(&raw, &a, b));
        Outcome {
            envelope,
            a,
            b,
            difference,
        }
    });
    Judged {
        index,
        label: entry.label,
        size,
        outcome,
    }
}

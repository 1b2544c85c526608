//! The receive and send comparisons of `compare_receive` and
//! `compare_send` (the same implementations, from `support/`), run in
//! interleaved rounds instead of one implementation after another, so that
//! a machine whose speed drifts (a noisy neighbour on a shared VM, turbo,
//! heat) slows them alike.
//!
//! Each round times every implementation once per case, starting with a
//! different one each round and reversing the order every other round; a
//! sample is enough back-to-back runs to last about `--sample-ms` (default
//! 40), counted from one warm run. Printed per case: each implementation's
//! median throughput over the rounds, and wsproto's ratio to tungstenite
//! as the median of the per-round ratios, with their range. The target of
//! the issue (at least 1.5× tungstenite, sans-IO core) is marked beside
//! it; nothing fails on timing.
//!
//! Run:
//!
//! ```sh
//! cargo bench -p wsproto-benches --bench compare                 # 15 rounds, about a minute
//! cargo bench -p wsproto-benches --bench compare -- --rounds 31
//! cargo bench -p wsproto-benches --bench compare -- --quick      # smoke run (CI): 1 round
//! cargo bench -p wsproto-benches --bench compare -- --only "receive large"
//! ```

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use support::{receive, send};

/// The ratio the issue asks of wsproto's sans-IO core over tungstenite.
const TARGET: f64 = 1.5;

struct Settings {
    rounds: usize,
    sample: Duration,
    /// Only the cases whose name contains this.
    only: Option<String>,
}

impl Settings {
    fn from_args() -> Settings {
        let args: Vec<String> = std::env::args().collect();
        let text = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let value = |name: &str| text(name).map(|v| v.parse::<u64>().expect("a number"));
        let quick = args.iter().any(|a| a == "--quick")
            || std::env::var_os("WSPROTO_BENCH_QUICK").is_some_and(|v| v != "0");
        Settings {
            rounds: value("--rounds").map_or(if quick { 1 } else { 15 }, |n| n.max(1) as usize),
            sample: Duration::from_millis(value("--sample-ms").unwrap_or(40)),
            only: text("--only"),
        }
    }
}

/// One implementation of one case, as a closure that runs it once and
/// checks what it did.
struct Contender<'a> {
    name: &'static str,
    run: Box<dyn Fn() + 'a>,
    /// Back-to-back runs per sample, set from the first (warm-up) run.
    reps: u32,
    /// Seconds per run, one entry per round.
    times: Vec<f64>,
}

/// A case with its contenders and how to turn seconds per run into a rate.
struct Race<'a> {
    name: String,
    contenders: Vec<Contender<'a>>,
    /// Units per run (messages, or payload bytes), and the unit's label.
    per_run: f64,
    unit: &'static str,
}

fn main() {
    let settings = Settings::from_args();
    let receive_cases = receive::cases();
    let send_cases = send::cases();
    let mut races = Vec::new();
    for case in &receive_cases {
        let contenders = receive::RECEIVERS
            .iter()
            .map(|&(name, receive)| {
                let expected = (case.messages, case.messages * case.size);
                contender(name, move || {
                    assert_eq!(receive(black_box(&case.input)), expected, "{name}")
                })
            })
            .collect();
        let (per_run, unit) = rate(case.messages, case.size);
        races.push(Race {
            name: format!("receive {}", case.name),
            contenders,
            per_run,
            unit,
        });
    }
    for case in &send_cases {
        let contenders = send::SENDERS
            .iter()
            .map(|&(name, send)| {
                let expected = case.wire_len();
                contender(name, move || {
                    let written = send(case.role, black_box(&case.payload), case.messages);
                    assert_eq!(written, expected, "{name}");
                })
            })
            .collect();
        let (per_run, unit) = rate(case.messages, case.payload.len());
        races.push(Race {
            name: format!("send {}", case.name),
            contenders,
            per_run,
            unit,
        });
    }

    if let Some(only) = &settings.only {
        races.retain(|race| race.name.contains(only.as_str()));
    }
    let started = Instant::now();
    for race in &mut races {
        for contender in &mut race.contenders {
            (contender.run)(); // warm-up
            let once = time(&*contender.run, 1);
            contender.reps = (settings.sample.as_secs_f64() / once)
                .ceil()
                .clamp(1.0, 1e6) as u32;
        }
    }
    for round in 0..settings.rounds {
        for race in &mut races {
            let n = race.contenders.len();
            for k in 0..n {
                // Start with a different one each round, and go the other
                // way round every other round, so that no implementation
                // always runs right after the same one.
                let k = if round % 2 == 0 { k } else { n - 1 - k };
                let contender = &mut race.contenders[(round + k) % n];
                let seconds = time(&*contender.run, contender.reps);
                contender.times.push(seconds);
            }
        }
    }

    println!(
        "compare: {} interleaved round(s), samples of about {} ms; medians over the rounds\n",
        settings.rounds,
        settings.sample.as_millis()
    );
    println!(
        "| benchmark | wsproto | wsproto_read | wsproto_read_buf | wsproto_blocking | tungstenite | fastwebsockets | wsproto / tungstenite (range) | target {TARGET}× |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for race in &races {
        let rate_of = |name: &str| {
            race.contenders
                .iter()
                .find(|c| c.name == name)
                .map(|c| race.per_run / median(&c.times))
        };
        let cell =
            |name: &str| rate_of(name).map_or(String::new(), |r| format!("{:.1} {}", r, race.unit));
        let times = |name: &str| {
            &race
                .contenders
                .iter()
                .find(|c| c.name == name)
                .unwrap()
                .times
        };
        let ratios: Vec<f64> = times("tungstenite")
            .iter()
            .zip(times("wsproto"))
            .map(|(t, w)| t / w)
            .collect();
        let ratio = median(&ratios);
        let (low, high) = range(&ratios);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {ratio:.2}× ({low:.2}–{high:.2}) | {} |",
            race.name,
            cell("wsproto"),
            cell("wsproto_read"),
            cell("wsproto_read_buf"),
            cell("wsproto_blocking"),
            cell("tungstenite"),
            cell("fastwebsockets"),
            if ratio >= TARGET { "met" } else { "missed" },
        );
    }
    println!(
        "\nwsproto: the sans-IO core fed slices; wsproto_read: the core reading into its own buffer (`receive_buffer`, zero-filled); \
         wsproto_read_buf: the same through `receive_buf_mut` (not zero-filled); \
         wsproto_blocking: blocking::WebSocket over the same in-memory stream. \
         M/s = million messages per second, GB/s = 10^9 payload bytes per second. Total {:.1} s.",
        started.elapsed().as_secs_f64()
    );
}

fn contender<'a>(name: &'static str, run: impl Fn() + 'a) -> Contender<'a> {
    Contender {
        name,
        run: Box::new(run),
        reps: 1,
        times: Vec::new(),
    }
}

/// Units per run: messages for small payloads, bytes for large ones.
fn rate(messages: usize, size: usize) -> (f64, &'static str) {
    if size < 1024 {
        (messages as f64 / 1e6, "M/s")
    } else {
        ((messages * size) as f64 / 1e9, "GB/s")
    }
}

/// Seconds per run, over `reps` runs back to back.
fn time(run: &dyn Fn(), reps: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..reps {
        run();
    }
    start.elapsed().as_secs_f64() / f64::from(reps)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn range(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

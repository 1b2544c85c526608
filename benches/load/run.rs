//! The orchestrator: every row against every server, server pinned to CPU
//! 0 and generator to CPU 1 with `taskset`, one process pair per run, and
//! the table (markdown) at the end.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::servers::IMPLS;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Echo,
    Idle,
    Room,
}

#[derive(Clone)]
struct Row {
    name: String,
    kind: Kind,
    conns: usize,
    size: usize,
    text: bool,
    pipeline: usize,
    rtt: bool,
    sources: usize,
    impls: Vec<&'static str>,
    /// Room rows: posts are ~4 KB chat-like JSON (benches/corpus) and the
    /// members offer permessage-deflate as Chromium does.
    chat: bool,
}

/// wsproto-blocking holds a thread per connection: rows of up to 500.
fn impls_for(conns: usize) -> Vec<&'static str> {
    IMPLS
        .iter()
        .copied()
        .filter(|i| *i != "wsproto-blocking" || conns <= 500)
        .collect()
}

fn rows(quick: bool) -> Vec<Row> {
    let echo = |conns: usize, size: usize, text: bool, pipeline: usize, rtt: bool| Row {
        name: format!(
            "{}{conns} × {} {}{}",
            if rtt { "HttpArena " } else { "" },
            match size {
                s if s >= 1024 => format!("{} KiB", s / 1024),
                s => format!("{s} B"),
            },
            if text { "text" } else { "binary" },
            if rtt {
                format!(", pipeline {pipeline}")
            } else {
                String::new()
            }
        ),
        kind: Kind::Echo,
        conns,
        size,
        text,
        pipeline,
        rtt,
        sources: conns.div_ceil(20_000),
        impls: impls_for(conns),
        chat: false,
    };
    let mut rows = Vec::new();
    let matrix: &[(usize, usize)] = if quick {
        &[(20, 20)]
    } else {
        &[
            (100, 0),
            (100, 20),
            (10, 1024),
            (10, 16 << 10),
            (200, 16 << 10),
            (500, 16 << 10),
        ]
    };
    for &(conns, size) in matrix {
        for text in [false, true] {
            rows.push(echo(conns, size, text, 1, false));
        }
    }
    if quick {
        rows.push(echo(4, 16 << 10, false, 1, false));
    }
    let arena: &[usize] = if quick { &[64] } else { &[512, 4096, 16_384] };
    let pipelines: &[usize] = if quick { &[16] } else { &[1, 16] };
    for &conns in arena {
        for &pipeline in pipelines {
            rows.push(echo(conns, 5, true, pipeline, true));
        }
    }
    let idle: &[usize] = if quick { &[200] } else { &[16_384, 50_000] };
    for &conns in idle {
        rows.push(Row {
            name: format!("idle {conns} connections, RSS per connection"),
            kind: Kind::Idle,
            conns,
            size: 0,
            text: false,
            pipeline: 1,
            rtt: false,
            sources: conns.div_ceil(20_000),
            impls: impls_for(conns),
            chat: false,
        });
    }
    let room: &[usize] = if quick { &[50] } else { &[1000, 10_000] };
    for &conns in room {
        rows.push(Row {
            name: format!("broadcast room, {conns} members, 32 B text"),
            kind: Kind::Room,
            conns,
            size: 32,
            text: true,
            pipeline: 1,
            rtt: false,
            sources: 1,
            impls: vec!["wsproto-room"],
            chat: false,
        });
    }
    // The same room with ~4 KB chat posts, without and with
    // permessage-deflate (the members offer it either way; only the
    // second server agrees).
    for &conns in room {
        for (which, label) in [
            ("wsproto-room", "no compression"),
            ("wsproto-room-deflate", "permessage-deflate"),
        ] {
            rows.push(Row {
                name: format!("broadcast room, {conns} members, 4 KB chat JSON, {label}"),
                kind: Kind::Room,
                conns,
                size: 0,
                text: true,
                pipeline: 1,
                rtt: false,
                sources: 1,
                impls: vec![which],
                chat: true,
            });
        }
    }
    rows
}

/// One result line's fields.
type Fields = std::collections::HashMap<String, f64>;

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    port: u16,
}

fn start_server(exe: &str, which: &str) -> Server {
    let mut child = Command::new("taskset")
        .args(["-c", "0", exe, "server", which])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("taskset (util-linux) must be installed");
    let stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("server {which} said {line:?}"));
    Server {
        child,
        stdin,
        stdout,
        port,
    }
}

fn parse(line: &str) -> Fields {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}

/// Sample settings passed through to the generator.
struct Timing(Vec<(String, String)>);

fn run_one(exe: &str, row: &Row, which: &str, quick: bool, timing: &Timing) -> Fields {
    let mut server = start_server(exe, which);
    let pid = server.child.id();
    let mode = match row.kind {
        Kind::Echo => "echo",
        Kind::Idle => "idle",
        Kind::Room => "room",
    };
    let mut args: Vec<String> = vec![
        "-c".into(),
        "1".into(),
        exe.into(),
        "gen".into(),
        mode.into(),
    ];
    let mut opt = |k: &str, v: String| {
        args.push(format!("--{k}"));
        args.push(v);
    };
    opt("addr", format!("127.0.0.1:{}", server.port));
    opt("conns", row.conns.to_string());
    opt("size", row.size.to_string());
    opt("pipeline", row.pipeline.to_string());
    opt("sources", row.sources.to_string());
    opt("server-pid", pid.to_string());
    if quick {
        opt("warmup", "0.1".into());
        opt("samples", "2".into());
        opt("sample-secs", "0.1".into());
        opt("settle-ms", "100".into());
    }
    // Overrides from the command line (`--samples 9`, ...).
    for (k, v) in &timing.0 {
        opt(k, v.clone());
    }
    if row.text {
        args.push("--text".into());
    }
    if row.rtt {
        args.push("--rtt".into());
    }
    if row.chat {
        args.push("--chat".into());
    }
    let out = Command::new("taskset")
        .args(&args)
        .stderr(Stdio::inherit())
        .output()
        .expect("generator");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .map(parse)
        .unwrap_or_else(|| panic!("{} against {which}: no result ({})", row.name, out.status));
    if row.kind == Kind::Room {
        writeln!(server.stdin, "stats").unwrap();
        let mut line = String::new();
        server.stdout.read_line(&mut line).unwrap();
        let mut words = line.split_whitespace();
        while let (Some(k), Some(v)) = (words.next(), words.next()) {
            fields.insert(k.to_string(), v.parse().unwrap_or(0.0));
        }
    }
    // Our own child, by its handle.
    let _ = server.child.kill();
    let _ = server.child.wait();
    fields
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

pub fn main(args: &[String]) {
    let quick = args.iter().any(|a| a == "--quick");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let only = value("--only");
    let rounds: usize = value("--rounds").and_then(|r| r.parse().ok()).unwrap_or(1);
    let timing = Timing(
        ["warmup", "samples", "sample-secs"]
            .iter()
            .filter_map(|k| Some((k.to_string(), value(&format!("--{k}"))?)))
            .collect(),
    );
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("# load benchmark: {cpu}; load average {}", load.trim());
    println!("# servers on CPU 0, generator on CPU 1 (taskset); {rounds} round(s)\n");
    // Server and generator inherit what we may raise it to.
    let nofile = crate::sys::raise_nofile(200_000);
    let started = std::time::Instant::now();
    let mut table = Vec::new();
    for row in rows(quick) {
        if only.as_deref().is_some_and(|o| !row.name.contains(o)) {
            continue;
        }
        if row.conns as u64 + 64 > nofile {
            let line = format!(
                "| {} | skipped: RLIMIT_NOFILE is {nofile} here and cannot be raised (no CAP_SYS_RESOURCE) |",
                row.name
            );
            println!("{line}");
            table.push(line);
            continue;
        }
        let mut results: Vec<(&str, Vec<Fields>)> =
            row.impls.iter().map(|i| (*i, Vec::new())).collect();
        for round in 0..rounds {
            let n = results.len();
            for k in 0..n {
                let idx = (k + round) % n;
                let which = results[idx].0;
                let fields = run_one(exe, &row, which, quick, &timing);
                eprintln!("{} | {which} | {fields:?}", row.name);
                results[idx].1.push(fields);
            }
        }
        let med = |runs: &[Fields], key: &str| {
            median(
                runs.iter()
                    .map(|f| f.get(key).copied().unwrap_or(0.0))
                    .collect(),
            )
        };
        let key = match row.kind {
            Kind::Echo => "msgs_per_sec",
            Kind::Idle => "rss_per_conn",
            Kind::Room => "delivered_per_sec",
        };
        let value_of = |which: &str| {
            results
                .iter()
                .find(|(w, _)| *w == which)
                .map(|(_, runs)| med(runs, key))
        };
        let mut cells = Vec::new();
        for which in IMPLS {
            let runs = results.iter().find(|(w, _)| *w == which);
            cells.push(match (row.kind, runs) {
                (_, None) => "–".to_string(),
                (Kind::Echo, Some((_, runs))) => {
                    let mut cell = format!(
                        "{} ({:.0} %, {:.2} µs)",
                        si(med(runs, key)),
                        med(runs, "server_cpu") * 100.0,
                        med(runs, "server_us_per_msg")
                    );
                    if row.rtt {
                        cell += &format!(
                            "; {}/{} µs",
                            med(runs, "rtt_p50_us"),
                            med(runs, "rtt_p99_us")
                        );
                    }
                    cell
                }
                (Kind::Idle, Some((_, runs))) => {
                    format!("{:.1} KiB", med(runs, key) / 1024.0)
                }
                (Kind::Room, Some(_)) => String::new(),
            });
        }
        let ours = value_of("wsproto").unwrap_or(0.0);
        let best = value_of("fastwebsockets")
            .unwrap_or(0.0)
            .max(value_of("tokio-websockets").unwrap_or(0.0));
        let tt = value_of("tokio-tungstenite").unwrap_or(0.0);
        let line = match row.kind {
            Kind::Room => {
                let runs = &results[0].1;
                format!(
                    "| {} | {} delivered/s ({:.0} % server CPU, {:.0} % generator); post → last member p50 {} µs, p99 {} µs; {:.3} µs server CPU per delivered message; {} encodes{} for {} posts, {} members dropped{} |",
                    row.name,
                    si(med(runs, key)),
                    med(runs, "server_cpu") * 100.0,
                    med(runs, "gen_cpu") * 100.0,
                    med(runs, "lat_p50_us"),
                    med(runs, "lat_p99_us"),
                    med(runs, "server_us_per_delivered"),
                    med(runs, "encodes"),
                    if row.chat {
                        format!(" + {} compressions", med(runs, "compressions"))
                    } else {
                        String::new()
                    },
                    med(runs, "posted"),
                    med(runs, "dropped"),
                    if row.chat {
                        format!(
                            "; {:.0} B on the wire per delivery ({:.0} B of text), {:.0} compressed",
                            med(runs, "wire_bytes_per_delivered"),
                            med(runs, "text_bytes_per_post"),
                            med(runs, "compressed_deliveries"),
                        )
                    } else {
                        String::new()
                    },
                )
            }
            Kind::Idle => format!(
                "| {} | {} | (lower is better) |",
                row.name,
                cells.join(" | ")
            ),
            Kind::Echo => format!(
                "| {} | {} | {:.2}× | {:.2}× |",
                row.name,
                cells.join(" | "),
                ours / best.max(1.0),
                ours / tt.max(1.0)
            ),
        };
        println!("{line}");
        std::io::stdout().flush().unwrap();
        table.push(line);
    }
    println!(
        "\n| row | {} | wsproto / best of fastwebsockets, tokio-websockets | wsproto / tokio-tungstenite |",
        IMPLS.join(" | ")
    );
    println!("|---|{}---:|---:|", "---:|".repeat(IMPLS.len()));
    for line in table {
        println!("{line}");
    }
    println!(
        "\n# {:.0} s; echo cells: messages/s (the server's CPU share, its CPU time per message); HttpArena rows add the round trip p50/p99",
        started.elapsed().as_secs_f64()
    );
}

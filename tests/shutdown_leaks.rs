//! A graceful shutdown leaves nothing behind: after `shutdown` and `wait`,
//! this process has as many threads (`/proc/self/task`) and file
//! descriptors (`/proc/self/fd`) as before the server started, and the
//! tokio runtime no live task (`num_alive_tasks`). A binary of its own,
//! with one test, so that the counts are this test's alone (the test
//! harness runs the tests of one binary in parallel threads).
//!
//! Each adapter's round runs twice and is measured on the second, so that
//! what is made once per process (a runtime's blocking pool, lazily
//! opened files) is not taken for a leak.

#![cfg(all(feature = "blocking", feature = "tokio"))]

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use wsproto::{CloseCode, Message};

const CLIENTS: usize = 10;

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Polls until `count()` is back to `baseline`, panicking after 10 s.
fn back_to(what: &str, baseline: usize, count: impl Fn() -> usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = count();
        if now == baseline {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {now} after the shutdown, {baseline} before"
        );
        thread::sleep(Duration::from_millis(5)); // a poll interval, not a synchronisation
    }
}

/// `count()` once it holds still (two reads 50 ms apart agree, 2 s at
/// most): the baseline after a round, whose detached threads may still be
/// on their way out when `wait` returns (their connection left the set
/// as they dropped it, just before they end).
fn settled(count: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut last = count();
    loop {
        thread::sleep(Duration::from_millis(50)); // a poll interval, not a synchronisation
        let now = count();
        if now == last || Instant::now() >= deadline {
            return now;
        }
        last = now;
    }
}

/// A blocking client: one echo (then says so on `echoed`), then reads
/// until the server's Close, which must be 1001, and the end of the
/// closing handshake.
fn client(addr: std::net::SocketAddr, echoed: mpsc::Sender<()>) {
    let (mut ws, _) = wsproto::blocking::ClientBuilder::new(format!("ws://{addr}/"))
        .no_proxy()
        .connect()
        .unwrap();
    ws.send("hello").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("hello"));
    echoed.send(()).unwrap();
    let mut closes = Vec::new();
    let end = loop {
        match ws.read() {
            Ok(Message::Close(frame)) => closes.push(frame.code),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(closes, [CloseCode::GOING_AWAY]);
    assert!(end.is_closed(), "{end}");
}

/// A blocking server, a thread per connection (left to end by itself),
/// `CLIENTS` clients in threads; shutdown and wait.
fn blocking_round() {
    let set = wsproto::blocking::ConnectionSet::new();
    let server = wsproto::blocking::ServerBuilder::new().connection_set(&set);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = thread::spawn(move || {
        for _ in 0..CLIENTS {
            let tcp = listener.accept().unwrap().0;
            let mut ws = server.accept(tcp).unwrap();
            // Detached: it must end by itself.
            thread::spawn(move || {
                while let Ok(message) = ws.read() {
                    if message.is_data() {
                        let _ = ws.send(message);
                    }
                }
            });
        }
    });
    let (echoed, echoes) = mpsc::channel();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let echoed = echoed.clone();
            thread::spawn(move || client(addr, echoed))
        })
        .collect();
    acceptor.join().unwrap();
    for _ in 0..CLIENTS {
        echoes.recv().unwrap();
    }
    set.shutdown();
    let report = set.wait_timeout(Duration::from_secs(5));
    assert_eq!((report.closed, report.cut), (CLIENTS, 0), "{report:?}");
    for client in clients {
        client.join().unwrap();
    }
}

/// The same on a tokio runtime of two workers: a task per connection.
fn tokio_round(runtime: &tokio::runtime::Runtime) {
    let set = wsproto::tokio::ConnectionSet::new();
    let server = wsproto::tokio::ServerBuilder::new().connection_set(&set);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = runtime.spawn(async move {
        for _ in 0..CLIENTS {
            let tcp = listener.accept().await.unwrap().0;
            let mut ws = server.accept(tcp).await.unwrap();
            tokio::spawn(async move {
                while let Some(Ok(message)) = ws.recv().await {
                    if message.is_data() {
                        let _ = ws.send(message).await;
                    }
                }
            });
        }
    });
    let (echoed, echoes) = mpsc::channel();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let echoed = echoed.clone();
            thread::spawn(move || client(addr, echoed))
        })
        .collect();
    runtime.block_on(acceptor).unwrap();
    for _ in 0..CLIENTS {
        echoes.recv().unwrap();
    }
    set.shutdown();
    let report = runtime.block_on(set.wait_timeout(Duration::from_secs(5)));
    assert_eq!((report.closed, report.cut), (CLIENTS, 0), "{report:?}");
    for client in clients {
        client.join().unwrap();
    }
}

#[test]
fn a_shutdown_leaves_no_thread_task_or_descriptor_behind() {
    blocking_round();
    let (fds_before, threads_before) = (settled(fds), settled(threads));
    blocking_round();
    back_to("threads, blocking", threads_before, threads);
    back_to("descriptors, blocking", fds_before, fds);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    tokio_round(&runtime);
    let metrics = runtime.handle().metrics();
    back_to("tasks", 0, || metrics.num_alive_tasks());
    let (fds_before, threads_before) = (settled(fds), settled(threads));
    tokio_round(&runtime);
    back_to("tasks", 0, || metrics.num_alive_tasks());
    back_to("threads, tokio", threads_before, threads);
    back_to("descriptors, tokio", fds_before, fds);
    eprintln!(
        "after {CLIENTS} connections shut down on each adapter: {} threads, {} descriptors",
        threads(),
        fds()
    );
}

//! The examples, run as processes and driven by `wsproto::blocking`
//! clients over 127.0.0.1. With the `tokio` feature, the tokio echo server
//! and line client too; the line clients' tests run against both (see
//! `client_tests!`).
//!
//! `cargo test` builds the examples before running tests; the binaries are
//! found in `target/<profile>/examples/`. (With `cargo test --test
//! blocking -- examples::` alone, run `cargo build --examples` first,
//! with the same `--features`.)
//!
//! Every child is killed when its guard drops, and a watchdog kills it
//! after [`DEADLINE`], which ends any client blocked on it: no test can
//! hang. Waiting is done by polling with deadlines, never by sleeping.

#![cfg(feature = "blocking")]

use crate::support;

// The chat's frames, read with the examples' own small JSON reader.
#[path = "../../examples/common/chat_log.rs"]
mod chat_log;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::child::example_path;
use wsproto::blocking::{
    ClientBuilder, Error, MaybeTlsStream, Message, Stream, WebSocket, connect,
};

/// How long any one child may live.
const DEADLINE: Duration = Duration::from_secs(60);

/// A running example: killed (and reaped) on drop, or by the watchdog
/// after [`DEADLINE`].
struct Running {
    child: Arc<Mutex<Child>>,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_done: Receiver<()>,
    _watchdog: Sender<()>,
}

impl Running {
    fn spawn(name: &str, args: &[&str]) -> Running {
        Running::spawn_env(name, args, &[])
    }

    /// [`spawn`](Self::spawn) with these variables set; the proxy
    /// variables of the test's own environment are never passed on.
    fn spawn_env(name: &str, args: &[&str], vars: &[(&str, &str)]) -> Running {
        let mut command = Command::new(example_path(name));
        for proxy_var in [
            "https_proxy",
            "HTTPS_PROXY",
            "http_proxy",
            "HTTP_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "no_proxy",
            "NO_PROXY",
        ] {
            command.env_remove(proxy_var);
        }
        let mut child = command
            .envs(vars.iter().copied())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let (line_tx, stdout) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let (done, stderr_done) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0; 1024];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            let _ = done.send(());
        });
        let child = Arc::new(Mutex::new(child));
        let (watchdog, stop) = mpsc::channel::<()>();
        let victim = child.clone();
        thread::spawn(move || {
            // Returns early (disconnected) when the guard drops.
            if let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(DEADLINE) {
                let _ = victim.lock().unwrap().kill();
            }
        });
        Running {
            child,
            stdin,
            stdout,
            stderr,
            stderr_done,
            _watchdog: watchdog,
        }
    }

    /// Spawns a server example on `addr` and returns it with the address
    /// from its `listening on ADDR` line.
    fn server(name: &str, args: &[&str]) -> (Running, SocketAddr) {
        let mut server = Running::spawn(name, args);
        let line = server.line_starting("listening on ");
        let addr = line["listening on ".len()..].parse().unwrap();
        (server, addr)
    }

    /// The next stdout line that starts with `prefix` (earlier ones are
    /// skipped); panics at the deadline or when stdout ends.
    fn line_starting(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => panic!(
                    "no line starting with {prefix:?} ({e}); stderr:\n{}",
                    self.stderr()
                ),
            }
        }
    }

    /// Every remaining stdout line, once stdout has ended.
    fn rest_of_stdout(&mut self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => return lines,
                Err(RecvTimeoutError::Timeout) => panic!("stdout did not end: {lines:?}"),
            }
        }
    }

    /// Waits for the exit (polling until a deadline) and for the end of
    /// stderr, so that [`stderr`](Self::stderr) is complete.
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                let left = deadline.saturating_duration_since(Instant::now());
                let _ = self.stderr_done.recv_timeout(left);
                return status;
            }
            assert!(Instant::now() < deadline, "the child did not exit");
            thread::sleep(Duration::from_millis(10)); // a poll interval, not a synchronisation
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends `SIGTERM` (with the `kill` program, as a supervisor would).
    fn terminate(&self) {
        let pid = self.child.lock().unwrap().id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {pid}: {status}");
    }

    /// Stderr once it contains `text` (polling until a deadline).
    fn stderr_containing(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let stderr = self.stderr();
            if stderr.contains(text) {
                return stderr;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} in stderr:\n{stderr}"
            );
            thread::sleep(Duration::from_millis(10)); // a poll interval, not a synchronisation
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Reads the next text message, skipping control frames.
fn next_text<S: Stream>(ws: &mut WebSocket<S>) -> String {
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => return text.to_string(),
            Ok(Message::Binary(_)) => panic!("unexpected binary message"),
            Ok(_) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// The next chat frame as the page shows it: `FROM: TEXT` (a post),
/// `* TEXT` (a notice), `* gap`, and an ack as `ack CID ID`.
fn next_line<S: Stream>(ws: &mut WebSocket<S>) -> String {
    let frame = next_text(ws);
    if frame == chat_log::GAP_FRAME {
        return "* gap".to_owned();
    }
    let fields: std::collections::HashMap<String, String> = chat_log::parse_object(&frame)
        .unwrap_or_else(|| panic!("not a frame: {frame}"))
        .into_iter()
        .collect();
    let get = |k: &str| fields.get(k).map(String::as_str);
    match (
        get("id"),
        get("from"),
        get("text"),
        get("notice"),
        get("ack"),
    ) {
        (Some(_), Some(from), Some(text), None, None) => format!("{from}: {text}"),
        (None, None, None, Some(notice), None) => format!("* {notice}"),
        (Some(id), None, None, None, Some(cid)) => format!("ack {cid} {id}"),
        _ => panic!("not a frame: {frame}"),
    }
}

/// The id of the next chat post (or ack).
fn next_id<S: Stream>(ws: &mut WebSocket<S>) -> (String, String) {
    let frame = next_text(ws);
    let fields: std::collections::HashMap<String, String> = chat_log::parse_object(&frame)
        .unwrap_or_else(|| panic!("not a frame: {frame}"))
        .into_iter()
        .collect();
    (fields["id"].clone(), frame)
}

/// Closes with 1000 and reads to the end of the closing handshake.
fn close<S: Stream>(mut ws: WebSocket<S>) {
    ws.close(1000, "bye").unwrap();
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(e) if e.is_closed() => return,
            Err(e) => panic!("closing: {e}"),
        }
    }
}

/// How many clients each server has when it is sent `SIGTERM` (the issue's
/// outside check uses 50).
const STOPPED_CLIENTS: usize = 50;

/// What the process may take from `SIGTERM` to its exit.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// Stopping well: with `clients` connected (each checked by the caller
/// with one message), `SIGTERM`; each client receives exactly one Close,
/// with 1001, after whatever was on its way, and the closing handshake
/// completes; the process exits with status 0 within [`STOP_WITHIN`] and
/// says on stderr that every connection closed and none was cut.
fn stops_well_on_sigterm<S>(server: &mut Running, clients: Vec<WebSocket<S>>)
where
    S: Stream + Send + 'static,
{
    let count = clients.len();
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            thread::spawn(move || {
                let mut closes = Vec::new();
                loop {
                    match ws.read() {
                        Ok(Message::Close(frame)) => closes.push(frame.code.as_u16()),
                        Ok(_) => {}
                        Err(end) => return (closes, end),
                    }
                }
            })
        })
        .collect();
    let signalled = Instant::now();
    server.terminate();
    let status = server.wait();
    let took = signalled.elapsed();
    let stderr = server.stderr();
    assert!(status.success(), "{status}; stderr:\n{stderr}");
    assert!(took < STOP_WITHIN, "exited {took:?} after SIGTERM");
    for reader in readers {
        let (closes, end) = reader.join().unwrap();
        assert_eq!(closes, [1001], "the Closes one client received");
        // The closing handshake completed: not a lost connection.
        assert!(end.is_closed(), "{end}");
    }
    assert!(
        stderr.contains(&format!("shutdown: {count} closed, 0 cut")),
        "{stderr}"
    );
    eprintln!("{count} clients, each closed with 1001; exited 0 after {took:?}");
}

/// Connects `STOPPED_CLIENTS` echo clients to `url`, each checked with
/// one message.
fn echo_clients(url: &str) -> Vec<WebSocket<MaybeTlsStream<TcpStream>>> {
    (0..STOPPED_CLIENTS)
        .map(|i| {
            let (mut ws, _) = ClientBuilder::new(url).no_proxy().connect().unwrap();
            ws.send(format!("hello {i}")).unwrap();
            assert_eq!(next_text(&mut ws), format!("hello {i}"));
            ws
        })
        .collect()
}

#[test]
fn echo_server_stops_well_on_sigterm() {
    let (mut server, addr) = Running::server("echo_server", &["127.0.0.1:0"]);
    let clients = echo_clients(&format!("ws://{addr}/"));
    stops_well_on_sigterm(&mut server, clients);
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_echo_server_stops_well_on_sigterm() {
    for threads in ["1", "2"] {
        let (mut server, addr) =
            Running::server("tokio_echo_server", &["127.0.0.1:0", "--threads", threads]);
        let clients = echo_clients(&format!("ws://{addr}/"));
        stops_well_on_sigterm(&mut server, clients);
    }
}

#[test]
fn chat_server_stops_well_on_sigterm() {
    let (mut server, addr) = Running::server("chat_server", &["127.0.0.1:0"]);
    let clients = (0..STOPPED_CLIENTS)
        .map(|i| {
            let (mut ws, _) = ClientBuilder::new(format!("ws://{addr}/ws?name=c{i}"))
                .no_proxy()
                .connect()
                .unwrap();
            assert_eq!(next_line(&mut ws), format!("* you are c{i}"));
            ws
        })
        .collect();
    stops_well_on_sigterm(&mut server, clients);
}

#[test]
fn auth_server_stops_well_on_sigterm() {
    let (mut server, addr) = Running::server("auth_server", &["127.0.0.1:0", "s3cret"]);
    let clients = (0..STOPPED_CLIENTS)
        .map(|_| {
            let builder = ClientBuilder::new(format!("ws://{addr}/?token=s3cret")).no_proxy();
            let (ws, first) = auth(builder).unwrap();
            assert_eq!(first, "authenticated via query");
            ws
        })
        .collect();
    stops_well_on_sigterm(&mut server, clients);
}

/// A TLS client config trusting the certificate an example printed.
#[cfg(feature = "tls")]
fn trusting_pem(path: &str) -> std::sync::Arc<wsproto::tls::rustls::ClientConfig> {
    use wsproto::tls::rustls::pki_types::CertificateDer;
    use wsproto::tls::rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(path)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    support::tls::trusting(certs)
}

/// `wss://` clients of a TLS example, each checked with one echo.
#[cfg(feature = "tls")]
fn tls_echo_clients(
    server: &mut Running,
    path: &str,
) -> (Vec<WebSocket<MaybeTlsStream<TcpStream>>>, String) {
    let cert = server.line_starting("certificate ")["certificate ".len()..].to_owned();
    let line = server.line_starting("listening on ");
    let addr = line["listening on ".len()..].to_owned();
    let trusting = trusting_pem(&cert);
    let clients = (0..STOPPED_CLIENTS)
        .map(|i| {
            let (mut ws, _) = ClientBuilder::new(format!("wss://{addr}{path}"))
                .tls_config(trusting.clone())
                .no_proxy()
                .connect()
                .unwrap();
            ws.send(format!("hello {i}")).unwrap();
            assert_eq!(next_text(&mut ws), format!("hello {i}"));
            ws
        })
        .collect();
    (clients, cert)
}

#[cfg(feature = "tls")]
#[test]
fn tls_echo_server_stops_well_on_sigterm() {
    let mut server = Running::spawn("tls_echo_server", &["127.0.0.1:0"]);
    let (clients, cert) = tls_echo_clients(&mut server, "/");
    stops_well_on_sigterm(&mut server, clients);
    let _ = std::fs::remove_file(cert);
}

/// axum_chat, plain (`axum::serve` with a graceful shutdown): members of
/// the room and echo sockets, one set.
#[cfg(all(feature = "axum", feature = "tls"))]
#[test]
fn axum_chat_stops_well_on_sigterm() {
    let (mut server, addr) = Running::server("axum_chat", &["127.0.0.1:0"]);
    let mut clients = echo_clients(&format!("ws://{addr}/echo"));
    clients.truncate(STOPPED_CLIENTS / 2);
    for i in clients.len()..STOPPED_CLIENTS {
        let (mut ws, _) = ClientBuilder::new(format!("ws://{addr}/ws?name=c{i}"))
            .origin(format!("http://{addr}"))
            .no_proxy()
            .connect()
            .unwrap();
        assert_eq!(next_line(&mut ws), format!("* you are c{i}"));
        clients.push(ws);
    }
    stops_well_on_sigterm(&mut server, clients);
}

/// axum_chat --tls: its own accept loop and hyper's connections over TLS.
#[cfg(all(feature = "axum", feature = "tls"))]
#[test]
fn axum_chat_over_tls_stops_well_on_sigterm() {
    let mut server = Running::spawn("axum_chat", &["127.0.0.1:0", "--tls"]);
    let (clients, cert) = tls_echo_clients(&mut server, "/echo");
    stops_well_on_sigterm(&mut server, clients);
    let _ = std::fs::remove_file(cert);
}

#[cfg(feature = "axum")]
#[test]
fn hyper_server_stops_well_on_sigterm() {
    let (mut server, addr) = Running::server("hyper_server", &["127.0.0.1:0"]);
    let clients = echo_clients(&format!("ws://{addr}/"));
    stops_well_on_sigterm(&mut server, clients);
}

/// A plain HTTP GET, returning the whole response.
fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// An echo server example echoes text, binary and 1 MiB, to a blocking
/// client.
fn echo_server_echoes(server: &str, args: &[&str]) {
    let (_server, addr) = Running::server(server, args);
    let (mut ws, _) = connect(&format!("ws://{addr}/")).unwrap();
    ws.send("héllo").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("héllo"));
    ws.send(vec![0u8, 1, 2, 255]).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![0u8, 1, 2, 255]));
    let big = "x".repeat(1 << 20);
    ws.send(big.as_str()).unwrap();
    assert_eq!(ws.read().unwrap().as_text(), Some(big.as_str()));
    close(ws);
}

#[test]
fn echo_server_echoes_text_and_binary() {
    echo_server_echoes("echo_server", &["127.0.0.1:0"]);
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_echo_server_echoes_text_and_binary_on_one_thread_and_on_four() {
    echo_server_echoes("tokio_echo_server", &["127.0.0.1:0"]);
    echo_server_echoes("tokio_echo_server", &["127.0.0.1:0", "--threads", "4"]);
}

/// Many clients at once, each echoing a burst of messages: the connections
/// run as concurrent tasks, on one thread and on several.
#[cfg(feature = "tokio")]
#[test]
fn tokio_echo_server_serves_clients_concurrently() {
    for threads in ["1", "2"] {
        let (_server, addr) =
            Running::server("tokio_echo_server", &["127.0.0.1:0", "--threads", threads]);
        let url = format!("ws://{addr}/");
        // All connected before any sends: a server that served one
        // connection at a time would not get past the first.
        let mut clients: Vec<_> = (0..20).map(|_| connect(&url).unwrap().0).collect();
        for (i, ws) in clients.iter_mut().enumerate() {
            for j in 0..10 {
                ws.send(format!("{i}.{j}")).unwrap();
            }
        }
        for (i, mut ws) in clients.into_iter().enumerate().rev() {
            for j in 0..10 {
                assert_eq!(next_text(&mut ws), format!("{i}.{j}"));
            }
            close(ws);
        }
    }
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_echo_server_rejects_bad_arguments() {
    for args in [&["--threads", "0"][..], &["--threads"], &["a", "b"]] {
        let mut server = Running::spawn("tokio_echo_server", args);
        let status = server.wait();
        assert_eq!(status.code(), Some(2), "{args:?}: {status}");
        assert!(server.stderr().contains("usage:"), "{}", server.stderr());
    }
}

fn sends_stdin_lines_and_prints_the_echoes(server: &str, client: &str) {
    let (_server, addr) = Running::server(server, &["127.0.0.1:0"]);
    let url = format!("ws://{addr}/");
    let mut client = Running::spawn(client, &[&url]);
    let mut stdin = client.stdin.take().unwrap();
    // Typed one at a time, each echo seen before the next line, as a person
    // would.
    for line in ["one", "two words", "ünïcode ✓"] {
        writeln!(stdin, "{line}").unwrap();
        assert_eq!(
            client.line_starting(""),
            line,
            "stderr: {}",
            client.stderr()
        );
    }
    drop(stdin); // end of input: the client closes with 1000
    assert_eq!(client.rest_of_stdout(), Vec::<String>::new());
    let status = client.wait();
    assert!(status.success(), "{status}; stderr: {}", client.stderr());
}

/// The client picks its proxy up from the environment, as the README
/// shows: through tinyproxy with `HTTP_PROXY`, and straight to the server
/// when `NO_PROXY` names it.
fn goes_through_the_proxy_in_the_environment(server: &str, client: &str) {
    let Some(proxy) = support::proxy::ProxyProcess::tinyproxy(Some(("alice", "pw-s3cret"))) else {
        return;
    };
    let (_server, addr) = Running::server(server, &["127.0.0.1:0"]);
    let url = format!("ws://{addr}/");
    let proxy_url = proxy.url("http", Some(("alice", "pw-s3cret")));
    for (no_proxy, through) in [("", true), ("127.0.0.1", false)] {
        let vars = [("HTTP_PROXY", proxy_url.as_str()), ("NO_PROXY", no_proxy)];
        let mut client = Running::spawn_env(client, &[&url, "--linger", "0"], &vars);
        let mut stdin = client.stdin.take().unwrap();
        writeln!(stdin, "via proxy: {through}").unwrap();
        assert_eq!(
            client.line_starting(""),
            format!("via proxy: {through}"),
            "stderr: {}",
            client.stderr()
        );
        drop(stdin);
        let status = client.wait();
        let stderr = client.stderr();
        assert!(status.success(), "{status}; stderr: {stderr}");
        assert_eq!(
            stderr.contains(&format!(
                "[through proxy http://***@127.0.0.1:{}]",
                proxy.port()
            )),
            through,
            "{stderr}"
        );
        assert!(!stderr.contains("pw-s3cret"), "{stderr}");
    }
    let connects = proxy.output().matches(&format!("CONNECT {addr}")).count();
    assert_eq!(connects, 1, "{}", proxy.output());
}

/// `/ping LABEL` sends a Ping (`send_ping`); the
/// Pong is noted on stderr, and the lines around it are echoed as usual.
fn pings_on_request(server: &str, client: &str) {
    let (_server, addr) = Running::server(server, &["127.0.0.1:0"]);
    let url = format!("ws://{addr}/");
    let mut client = Running::spawn(client, &[&url, "--linger", "0"]);
    let mut stdin = client.stdin.take().unwrap();
    writeln!(stdin, "/ping are you there?").unwrap();
    writeln!(stdin, "after").unwrap();
    // The echo of the next line comes after the Pong, on the same socket.
    assert_eq!(client.line_starting(""), "after", "{}", client.stderr());
    drop(stdin);
    let status = client.wait();
    assert!(status.success(), "{status}; stderr: {}", client.stderr());
    assert!(
        client.stderr().contains("[pong: are you there?]"),
        "stderr: {}",
        client.stderr()
    );
    assert_eq!(client.rest_of_stdout(), Vec::<String>::new());
}

/// Lines piped in all at once, input closed right away: the server gets
/// the messages and the Close together, and must still answer every
/// message before its Close echo.
fn piped_input_gets_every_echo_before_the_close(server: &str, client: &str) {
    let (_server, addr) = Running::server(server, &["127.0.0.1:0"]);
    let lines: Vec<String> = (0..20).map(|i| format!("line {i}")).collect();
    let mut client = Running::spawn(client, &[&format!("ws://{addr}/")]);
    let mut stdin = client.stdin.take().unwrap();
    stdin
        .write_all(format!("{}\n", lines.join("\n")).as_bytes())
        .unwrap();
    drop(stdin);
    assert_eq!(
        client.rest_of_stdout(),
        lines,
        "stderr: {}",
        client.stderr()
    );
    let status = client.wait();
    assert!(status.success(), "{status}; stderr: {}", client.stderr());
}

fn reports_errors_with_a_failure_status(server: &str, client: &str) {
    // Nothing listens there once the server is gone.
    let (running, addr) = Running::server(server, &["127.0.0.1:0"]);
    drop(running);
    let mut run = Running::spawn(client, &[&format!("ws://{addr}/")]);
    let status = run.wait();
    assert!(!status.success());
    assert!(run.stderr().contains("error:"), "{}", run.stderr());

    let mut run = Running::spawn(client, &["http://not-a-websocket/"]);
    assert_eq!(run.wait().code(), Some(1), "{}", run.stderr());
    // A usage error is told apart: status 2.
    let mut run = Running::spawn(client, &[]);
    assert_eq!(run.wait().code(), Some(2), "{}", run.stderr());
    assert!(run.stderr().contains("usage:"), "{}", run.stderr());
}

/// The line clients, blocking and tokio, against the echo servers of
/// their kind: same behaviour, same output.
macro_rules! client_tests {
    ($($test:ident),* $(,)?) => {
        mod client {
            $(
                #[test]
                fn $test() {
                    super::$test("echo_server", "client");
                }
            )*
        }
        #[cfg(feature = "tokio")]
        mod tokio_client {
            $(
                #[test]
                fn $test() {
                    super::$test("tokio_echo_server", "tokio_client");
                }
            )*
        }
    };
}

client_tests!(
    sends_stdin_lines_and_prints_the_echoes,
    goes_through_the_proxy_in_the_environment,
    pings_on_request,
    piped_input_gets_every_echo_before_the_close,
    reports_errors_with_a_failure_status,
);

#[test]
fn chat_server_serves_the_page_and_refuses_other_origins() {
    let (_server, addr) = Running::server("chat_server", &["127.0.0.1:0"]);
    let page = http_get(addr, "/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<title>wsproto chat</title>"));
    assert!(page.contains("new WebSocket("));
    assert!(http_get(addr, "/nope").starts_with("HTTP/1.1 404"));

    let url = format!("ws://{addr}/ws");
    let refused = ClientBuilder::new(&url)
        .origin("http://evil.example")
        .connect()
        .unwrap_err();
    assert_eq!(refused.http_status(), Some(403), "{refused}");

    // The page's own origin is let in.
    let (mut ws, _) = ClientBuilder::new(&url)
        .origin(format!("http://{addr}"))
        .connect()
        .unwrap();
    assert!(next_line(&mut ws).starts_with("* you are guest-"));
    close(ws);
}

#[test]
fn chat_server_speaks_the_chat_protocol_posts_acks_resume_and_gap() {
    let (_server, addr) = Running::server("chat_server", &["127.0.0.1:0"]);
    let join = |name: &str| {
        let (mut ws, _) = connect(&format!("ws://{addr}/ws?name={name}")).unwrap();
        assert_eq!(next_line(&mut ws), format!("* you are {name}"));
        ws
    };
    let mut alice = join("alice");
    let mut bob = join("bob");
    assert_eq!(next_line(&mut alice), "* bob joined");

    // Every member gets every post, its sender too, in the log's order.
    alice.send("hi bob").unwrap();
    assert_eq!(next_line(&mut bob), "alice: hi bob");
    let (first, _) = next_id(&mut alice);
    bob.send(r#"{"cid":"b1","text":"hi alice"}"#).unwrap();
    assert_eq!(next_line(&mut alice), "bob: hi alice");
    let (second, post) = next_id(&mut bob);
    assert!(post.contains("hi alice"), "{post}");
    assert_eq!(next_line(&mut bob), format!("ack b1 {second}"));
    // The same cid again: acknowledged with the same id, not stored again.
    bob.send(r#"{"cid":"b1","text":"hi alice"}"#).unwrap();
    assert_eq!(next_line(&mut bob), format!("ack b1 {second}"));
    // Malformed JSON is a plain post.
    alice.send("{not json").unwrap();
    assert_eq!(next_line(&mut bob), "alice: {not json");

    // Resuming after the first post: the rest, then the live posts.
    let (mut carol, _) = connect(&format!("ws://{addr}/ws?name=carol&since={first}")).unwrap();
    assert_eq!(next_line(&mut carol), "* you are carol");
    assert_eq!(next_line(&mut carol), "bob: hi alice");
    assert_eq!(next_line(&mut carol), "alice: {not json");
    alice.send("live").unwrap();
    assert_eq!(next_line(&mut carol), "alice: live");
    // A history this server never had (it restarted): a gap.
    let (mut dan, _) = connect(&format!("ws://{addr}/ws?name=dan&since=99999999999999-0")).unwrap();
    assert_eq!(next_line(&mut dan), "* you are dan");
    assert_eq!(next_line(&mut dan), "* gap");
    // A malformed since: 400 before the upgrade.
    let refused = connect(&format!("ws://{addr}/ws?name=eve&since=1-x")).unwrap_err();
    assert_eq!(refused.http_status(), Some(400), "{refused}");
    close(dan);
    close(carol);

    close(bob);
    assert_eq!(next_line(&mut alice), "alice: {not json");
    assert_eq!(next_line(&mut alice), "* carol joined");
    assert_eq!(next_line(&mut alice), "alice: live");
    assert_eq!(next_line(&mut alice), "* dan joined");
    // Three threads leave: in any order.
    let mut left: Vec<String> = (0..3).map(|_| next_line(&mut alice)).collect();
    left.sort();
    assert_eq!(left, ["* bob left", "* carol left", "* dan left"]);
    close(alice);
}

/// The history in memory is bounded (`--history 2` here): a client
/// resuming from before what is kept gets `{"gap":true}`, then what is
/// kept, then the live posts.
#[test]
fn chat_server_keeps_a_bounded_history_and_tells_of_a_gap() {
    let (_server, addr) = Running::server("chat_server", &["127.0.0.1:0", "--history", "2"]);
    let (mut ann, _) = connect(&format!("ws://{addr}/ws?name=ann")).unwrap();
    assert_eq!(next_line(&mut ann), "* you are ann");
    let mut ids = Vec::new();
    for i in 0..4 {
        ann.send(format!("post {i}")).unwrap();
        ids.push(next_id(&mut ann).0);
    }
    let (mut bo, _) = connect(&format!("ws://{addr}/ws?name=bo&since={}", ids[0])).unwrap();
    assert_eq!(next_line(&mut bo), "* you are bo");
    assert_eq!(next_line(&mut bo), "* gap");
    assert_eq!(next_line(&mut bo), "ann: post 2");
    assert_eq!(next_line(&mut bo), "ann: post 3");
    ann.send("live").unwrap();
    assert_eq!(next_line(&mut bo), "ann: live");
    // From the last post kept but one: no gap.
    let (mut cy, _) = connect(&format!("ws://{addr}/ws?name=cy&since={}", ids[2])).unwrap();
    assert_eq!(next_line(&mut cy), "* you are cy");
    assert_eq!(next_line(&mut cy), "ann: post 3");
    assert_eq!(next_line(&mut cy), "ann: live");
    close(cy);
    close(bo);
    close(ann);
}

/// Connects to the auth server with `builder` and returns the first
/// message, or the handshake error.
fn auth(builder: ClientBuilder) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, String), Error> {
    let (mut ws, _) = builder.connect()?;
    let first = next_text(&mut ws);
    Ok((ws, first))
}

#[test]
fn auth_server_checks_the_token_in_the_query_and_the_headers() {
    let (_server, addr) = Running::server("auth_server", &["127.0.0.1:0", "s3cret"]);
    let url = format!("ws://{addr}/");

    let (mut ws, first) = auth(ClientBuilder::new(format!("{url}?token=s3cret"))).unwrap();
    assert_eq!(first, "authenticated via query");
    ws.send("echo me").unwrap();
    assert_eq!(next_text(&mut ws), "echo me");
    close(ws);
    let refused = auth(ClientBuilder::new(format!("{url}?token=wrong"))).unwrap_err();
    assert_eq!(refused.http_status(), Some(403));
    // The query is percent-decoded (`%63` is `c`).
    let (ws, first) = auth(ClientBuilder::new(format!("{url}?token=s3%63ret"))).unwrap();
    assert_eq!(first, "authenticated via query");
    close(ws);

    let bearer = |value: &str| ClientBuilder::new(&url).header("Authorization", value);
    let (ws, first) = auth(bearer("Bearer s3cret")).unwrap();
    assert_eq!(first, "authenticated via header");
    close(ws);
    let refused = auth(bearer("Bearer s3creT")).unwrap_err();
    assert_eq!(refused.http_status(), Some(403));
    let refused = auth(bearer("Basic czNjcmV0")).unwrap_err();
    assert_eq!(refused.http_status(), Some(401));
    let response = refused.response().unwrap();
    assert_eq!(
        response.headers().get_str("WWW-Authenticate"),
        Some("Bearer")
    );

    let with_protocols = |token: &str| {
        ClientBuilder::new(&url)
            .protocol("chat")
            .protocol(format!("token.{token}"))
    };
    let (ws, first) = auth(with_protocols("s3cret")).unwrap();
    assert_eq!(first, "authenticated via subprotocol");
    assert_eq!(ws.protocol(), Some("chat"));
    close(ws);
    let refused = auth(with_protocols("nope")).unwrap_err();
    assert_eq!(refused.http_status(), Some(403));
}

/// Refusals the server decided are logged as such on stdout; a client
/// that sends garbage is a handshake failure, logged on stderr.
#[test]
fn auth_server_logs_refusals_apart_from_garbage() {
    let (mut server, addr) = Running::server("auth_server", &["127.0.0.1:0", "s3cret"]);
    let url = format!("ws://{addr}/");

    // Garbage: an upgrade without Sec-WebSocket-Key.
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    drop(tcp);
    let stderr = server.stderr_containing("connection: handshake failed: ");
    assert!(stderr.contains("missing Sec-WebSocket-Key"), "{stderr}");

    let refused = auth(ClientBuilder::new(format!("{url}?token=wrong"))).unwrap_err();
    assert_eq!(refused.http_status(), Some(403));
    assert_eq!(
        server.line_starting("refused"),
        "refused: answered with HTTP status 403, as decided"
    );
    let refused = auth(ClientBuilder::new(&url).header("Authorization", "Basic x")).unwrap_err();
    assert_eq!(refused.http_status(), Some(401));
    assert_eq!(
        refused
            .response()
            .unwrap()
            .headers()
            .get_str("WWW-Authenticate"),
        Some("Bearer")
    );
    assert_eq!(
        server.line_starting("refused"),
        "refused: answered with HTTP status 401, as decided"
    );
    // Only the garbage went to the failure log.
    let stderr = server.stderr();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn auth_server_checks_the_first_message_and_closes_with_1008() {
    let (_server, addr) = Running::server("auth_server", &["127.0.0.1:0", "s3cret"]);
    let url = format!("ws://{addr}/");

    let (mut ws, _) = connect(&url).unwrap();
    ws.send("AUTH s3cret").unwrap();
    assert_eq!(next_text(&mut ws), "authenticated via first message");
    close(ws);

    for first in ["AUTH wrong", "hello"] {
        let (mut ws, _) = connect(&url).unwrap();
        ws.send(first).unwrap();
        match ws.read().unwrap() {
            Message::Close(frame) => assert_eq!(frame.code.as_u16(), 1008),
            other => panic!("expected a Close, got {other:?}"),
        }
        let end = ws.read().unwrap_err();
        assert!(end.is_closed(), "{end}");
    }
}

#[test]
fn reconnecting_client_reconnects_and_authenticates_again() {
    let (server, addr) = Running::server("auth_server", &["127.0.0.1:0", "s3cret"]);
    let url = format!("ws://{addr}/");
    let mut client = Running::spawn("reconnecting_client", &[&url, "s3cret"]);
    client.line_starting("authenticated via first message");

    // The server goes away; the client retries (connection refused) until
    // a server listens on the same address again.
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(30);
    let _server = loop {
        let again = Running::spawn("auth_server", &[&addr.to_string(), "s3cret"]);
        match again.stdout.recv_timeout(Duration::from_secs(10)) {
            Ok(line) if line.starts_with("listening on") => break again,
            // Could not bind yet: try again.
            _ => assert!(
                Instant::now() < deadline,
                "rebinding {addr}: {}",
                again.stderr()
            ),
        }
    };
    // Said only after the AUTH message: the hook ran on the new connection.
    client.line_starting("authenticated via first message");
}

#[test]
fn sans_io_example_runs_to_the_end() {
    let mut run = Running::spawn("sans_io", &[]);
    let lines = run.rest_of_stdout();
    assert!(run.wait().success(), "stderr: {}", run.stderr());
    assert!(
        lines.iter().any(|l| l == "received: hello, sans-io"),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l == "peer closed: 1000"), "{lines:?}");
    assert!(lines.last().unwrap().starts_with("finished"), "{lines:?}");
}

#[test]
fn in_memory_example_runs() {
    let mut run = Running::spawn("in_memory", &[]);
    let _ = run.rest_of_stdout();
    assert!(run.wait().success(), "stderr: {}", run.stderr());
}

#[cfg(feature = "tls")]
#[test]
fn tls_echo_server_and_wss_client() {
    let mut server = Running::spawn("tls_echo_server", &["127.0.0.1:0"]);
    let cert = server.line_starting("certificate ")["certificate ".len()..].to_owned();
    let line = server.line_starting("listening on ");
    let addr = &line["listening on ".len()..];

    let mut client = Running::spawn("wss_client", &[&format!("wss://{addr}/"), &cert]);
    assert_eq!(
        client.rest_of_stdout(),
        ["hello over TLS"],
        "{}",
        client.stderr()
    );
    assert!(client.wait().success(), "{}", client.stderr());

    // Without the certificate, the Mozilla roots do not trust it.
    let mut client = Running::spawn("wss_client", &[&format!("wss://{addr}/")]);
    assert!(!client.wait().success());
    assert!(
        client.stderr().contains("certificate"),
        "{}",
        client.stderr()
    );
    let _ = std::fs::remove_file(cert);
}

/// axum_chat, plain: the page, the same-origin policy, the room (as
/// chat_server's), the `/echo` route, and its `socket NAME VERSION METHOD`
/// lines.
#[cfg(all(feature = "axum", feature = "tls"))]
#[test]
fn axum_chat_serves_the_page_the_room_and_the_echo() {
    let (mut server, addr) = Running::server("axum_chat", &["127.0.0.1:0"]);
    let page = http_get(addr, "/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<title>wsproto chat</title>"));

    let url = format!("ws://{addr}/ws");
    let refused = ClientBuilder::new(&url)
        .origin("http://evil.example")
        .connect()
        .unwrap_err();
    assert_eq!(refused.http_status(), Some(403), "{refused}");
    assert!(server.line_starting("socket ").starts_with("socket guest-"));

    let mut join = |name: &str| {
        let (mut ws, _) = ClientBuilder::new(format!("{url}?name={name}"))
            .origin(format!("http://{addr}"))
            .connect()
            .unwrap();
        assert_eq!(next_line(&mut ws), format!("* you are {name}"));
        assert_eq!(
            server.line_starting("socket "),
            format!("socket {name} HTTP/1.1 GET")
        );
        ws
    };
    let mut alice = join("alice");
    let mut bob = join("bob");
    assert_eq!(next_line(&mut alice), "* bob joined");
    alice.send(r#"{"cid":"a1","text":"hi bob"}"#).unwrap();
    assert_eq!(next_line(&mut bob), "alice: hi bob");
    let (id, _) = next_id(&mut alice);
    assert_eq!(next_line(&mut alice), format!("ack a1 {id}"));
    // The same protocol as with --redis: a resume, a malformed since.
    let (mut carol, _) = ClientBuilder::new(format!("{url}?name=carol&since=0-0"))
        .origin(format!("http://{addr}"))
        .connect()
        .unwrap();
    assert_eq!(next_line(&mut carol), "* you are carol");
    assert_eq!(next_line(&mut carol), "alice: hi bob");
    assert_eq!(server.line_starting("socket "), "socket carol HTTP/1.1 GET");
    close(carol);
    let refused = ClientBuilder::new(format!("{url}?since=x"))
        .origin(format!("http://{addr}"))
        .connect()
        .unwrap_err();
    assert_eq!(refused.http_status(), Some(400), "{refused}");
    assert_eq!(next_line(&mut alice), "* carol joined");
    assert_eq!(next_line(&mut alice), "* carol left");
    close(bob);
    assert_eq!(next_line(&mut alice), "* bob left");
    close(alice);

    let (mut ws, _) = connect(&format!("ws://{addr}/echo")).unwrap();
    ws.send(Message::binary(vec![7; 100_000])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![7; 100_000]));
    close(ws);
}

/// axum_chat with permessage-deflate: every member agrees to the
/// stateless mode, and a post is framed once plain and compressed once
/// for the whole room (`/stats`), whatever the number of members.
#[cfg(all(feature = "axum", feature = "tls", feature = "deflate"))]
#[test]
fn axum_chat_compresses_a_post_once_for_the_room() {
    let (_server, addr) = Running::server("axum_chat", &["127.0.0.1:0"]);
    let url = format!("ws://{addr}/ws");
    let join = |name: &str| {
        let (mut ws, established) = ClientBuilder::new(format!("{url}?name={name}"))
            .origin(format!("http://{addr}"))
            .deflate(wsproto::deflate::DeflateConfig::default())
            .connect()
            .unwrap();
        let agreed = established.deflate().expect("deflate agreed");
        assert!(agreed.server_no_context_takeover && agreed.client_no_context_takeover);
        assert_eq!(next_line(&mut ws), format!("* you are {name}"));
        ws
    };
    let mut members: Vec<_> = ["alice", "bob", "carol", "dave"].map(join).into();
    for (i, member) in members.iter_mut().enumerate() {
        for later in ["bob", "carol", "dave"].iter().skip(i) {
            assert_eq!(next_line(member), format!("* {later} joined"));
        }
    }
    let post = "{\"text\":\"a long line for the whole room\"} ".repeat(60);
    members[0].send(post.as_str()).unwrap();
    for member in &mut members[1..] {
        assert_eq!(next_line(member), format!("alice: {post}"));
    }
    // Counted once the last member's writer is done with it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = http_get(addr, "/stats");
        // 4 "you are", 4 "joined" (alice's to an empty room; all short,
        // so not compressed), 1 post.
        if stats.ends_with("posts 9\nplain_encodes 9\ncompressed_encodes 1\n") {
            break;
        }
        assert!(Instant::now() < deadline, "{stats}");
        thread::sleep(Duration::from_millis(20));
    }
    for member in members {
        close(member);
    }
}

/// axum_chat --tls: a self-signed certificate, printed; `wss://` works
/// with it (HTTP/1.1 by ALPN for this client; the browser test covers
/// HTTP/2).
#[cfg(all(feature = "axum", feature = "tls"))]
#[test]
fn axum_chat_over_tls_with_a_self_signed_certificate() {
    let mut server = Running::spawn("axum_chat", &["127.0.0.1:0", "--tls"]);
    let cert = server.line_starting("certificate ")["certificate ".len()..].to_owned();
    let line = server.line_starting("listening on ");
    let addr = &line["listening on ".len()..];
    let mut client = Running::spawn("wss_client", &[&format!("wss://{addr}/echo"), &cert]);
    assert_eq!(
        client.rest_of_stdout(),
        ["hello over TLS"],
        "{}",
        client.stderr()
    );
    assert!(client.wait().success(), "{}", client.stderr());
    let _ = std::fs::remove_file(cert);
}

/// hyper_server: hyper alone with the handshake in `http` types; an
/// echo, and a refusal with the core's status.
#[cfg(feature = "axum")]
#[test]
fn hyper_server_echoes_and_refuses_with_the_core_status() {
    let (_server, addr) = Running::server("hyper_server", &["127.0.0.1:0"]);
    let (mut ws, _) = connect(&format!("ws://{addr}/")).unwrap();
    ws.send("through hyper").unwrap();
    assert_eq!(next_text(&mut ws), "through hyper");
    close(ws);
    // permessage-deflate agreed and in use (the example has the feature).
    #[cfg(feature = "deflate")]
    {
        let (mut ws, established) = ClientBuilder::new(format!("ws://{addr}/"))
            .deflate(wsproto::deflate::DeflateConfig::default())
            .connect()
            .unwrap();
        assert!(established.deflate().is_some());
        let text = "compress me ".repeat(1000);
        ws.send(text.as_str()).unwrap();
        assert_eq!(next_text(&mut ws), text);
        close(ws);
    }
    let page = http_get(addr, "/");
    assert!(page.starts_with("HTTP/1.1 426"), "{page}");
}

/// The embedded loop is deterministic (a seeded generator, a tick
/// counter), so its whole transcript is known: the handshake, the echo,
/// a keepalive Ping answered every 5 s of ticks, the closing handshake.
#[test]
fn no_std_loop_runs_the_client_on_a_tick_counter() {
    let output = Command::new(example_path("no_std_loop")).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "[    1 ms] device: connected",
            "[    2 ms] device: echo \"hello from the device\"",
            "[ 5003 ms] device: Pong for the keepalive Ping",
            "[10004 ms] device: Pong for the keepalive Ping",
            "[10005 ms] device: Close(CloseFrame { code: CloseCode(1000 NORMAL), reason: \"\" })",
            "[10006 ms] device: closed",
        ]
    );
}

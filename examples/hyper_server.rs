//! An echo server on hyper 1.x alone (no axum), with the handshake in
//! `http` types (feature `http`) and the tokio adapter's `WebSocket` over
//! `hyper::upgrade::on`: HTTP/1.1 upgrades, and HTTP/2 extended CONNECT
//! (RFC 8441) from clients that speak HTTP/2 with prior knowledge;
//! permessage-deflate with the `deflate` feature.
//!
//! ```text
//! cargo run --features axum --example hyper_server              # 127.0.0.1:9001
//! cargo run --features axum --example hyper_server -- 127.0.0.1:0
//! ```
//!
//! (Feature `axum` brings hyper, hyper-util and tokio; nothing of axum is
//! used here.) Prints `listening on ADDR`.
//!
//! `SIGTERM` or Ctrl-C stops it well: it stops accepting, every socket
//! gets a Close with 1001 (Going Away), the closing handshakes are waited
//! for (at most 5 s), and it exits with status 0 after printing
//! `shutdown: N closed, M cut` on stderr. The sockets join a
//! [`ConnectionSet`] through [`ConnectionSet::admit`], taken in the
//! request handler before the `101` goes out, and
//! [`WebSocket::join_set`] once hyper hands the connection over. Its
//! connections share a [`MemoryBudget`] ([`WebSocket::join_budget`]) and
//! a message must arrive within a minute, as the server builders set.

use std::convert::Infallible;
use std::io::Write;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use wsproto::Config;
use wsproto::adapter::MemoryBudget;
use wsproto::handshake::{AcceptOptions, RequestParser};
use wsproto::tokio::{ConnectionSet, WebSocket};

/// How long the closing handshakes may take before the connections left
/// are cut.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    let set = ConnectionSet::new();
    // Bytes of messages still arriving, summed over every connection.
    let budget = MemoryBudget::new(256 << 20);
    let mut stop = std::pin::pin!(stop_signal());
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            signal = &mut stop => {
                eprintln!("shutdown: {}, closing {} connections", signal?, set.live());
                break;
            }
        };
        tcp.set_nodelay(true)?;
        let (set, budget) = (set.clone(), budget.clone());
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // RFC 8441 §3: without SETTINGS_ENABLE_CONNECT_PROTOCOL no
            // client may send an extended CONNECT.
            builder.http2().enable_connect_protocol();
            let service = hyper::service::service_fn(move |request| {
                upgrade(request, set.clone(), budget.clone())
            });
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                .await;
        });
    }
    drop(listener);
    set.shutdown();
    let report = set.wait_timeout(CLOSE_WAIT).await;
    eprintln!("shutdown: {} closed, {} cut", report.closed, report.cut);
    Ok(())
}

/// Waits for `SIGTERM` or Ctrl-C (`SIGINT`) and names it.
async fn stop_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => Ok("SIGTERM"),
        interrupted = tokio::signal::ctrl_c() => interrupted.map(|()| "SIGINT"),
    }
}

/// Answers the handshake (101, or 200 over HTTP/2) and echoes in a task
/// of its own once hyper hands the connection over; a refusal gets the
/// core's status and body, a request during a shutdown 503.
async fn upgrade(
    mut request: Request<Incoming>,
    set: ConnectionSet,
    budget: MemoryBudget,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let protocol = request
        .extensions()
        .get::<hyper::ext::Protocol>()
        .map(|p| p.as_str().to_owned());
    let upgrade = match RequestParser::default().parse_http_request(&request, protocol.as_deref()) {
        Ok(upgrade) => upgrade,
        Err(refused) => {
            let response = refused.to_http_response(request.version());
            return Ok(response.map(|body| Full::new(Bytes::from(body))));
        }
    };
    // permessage-deflate when the client offers it (feature `deflate`).
    #[allow(unused_mut)]
    let mut options = AcceptOptions::new();
    #[cfg(feature = "deflate")]
    {
        options = options.deflate(wsproto::deflate::DeflateConfig::default());
    }
    let (response, negotiated) = match upgrade.accept_http(options) {
        Ok(accepted) => accepted,
        Err(_) => unreachable!("nothing was asked that the handshake cannot send"),
    };
    // A place in the set, taken before the response goes out: a shutdown
    // either comes first (503) or closes this socket too.
    let Some(admission) = set.admit() else {
        let mut refused = Response::new(Full::new(Bytes::from("shutting down\n")));
        *refused.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        refused
            .headers_mut()
            .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
        return Ok(refused);
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    let config = Config::default().message_timeout(Some(Duration::from_secs(60)));
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        // What was agreed (subprotocol, deflate) goes to the connection.
        let mut ws = WebSocket::from_negotiated(TokioIo::new(upgraded), config, &negotiated, &[]);
        ws.join_set(admission);
        ws.join_budget(&budget);
        while let Some(Ok(message)) = ws.recv().await {
            if message.is_data() && ws.send(message).await.is_err() {
                return;
            }
        }
    });
    Ok(response.map(|()| Full::new(Bytes::new())))
}

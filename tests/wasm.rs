//! The browser client (`wsproto::wasm`) in headless Chromium against the
//! project's own servers on loopback (`examples/wasm_test_server.rs`):
//! run by `scripts/wasm_test.sh`, which starts the server and passes its
//! addresses in at compile time (`WSPROTO_WASM_ADDR`,
//! `WSPROTO_WASM_FLAKY_ADDR`). Nothing here reaches outside the machine.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use wasm_bindgen::prelude::*;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use wsproto::UsageError;
use wsproto::wasm::{
    Backoff, ClientBuilder, CloseCode, Error, Message, ReconnectingClient, WebSocket, connect,
    live_callbacks,
};

wasm_bindgen_test_configure!(run_in_browser);

/// The main test server.
const ADDR: &str = match option_env!("WSPROTO_WASM_ADDR") {
    Some(addr) => addr,
    None => "127.0.0.1:9",
};
/// The server that vanishes on command (`/ctl?cmd=down`).
const FLAKY: &str = match option_env!("WSPROTO_WASM_FLAKY_ADDR") {
    Some(addr) => addr,
    None => "127.0.0.1:9",
};

fn url(path: &str) -> String {
    format!("ws://{ADDR}{path}")
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;
}

async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// An id for the server's log, unique per run.
fn unique_id(what: &str) -> String {
    format!("{what}-{}", (js_sys::Math::random() * 1e12) as u64)
}

/// What the server recorded of the client's Close under `id`.
async fn server_log(id: &str) -> String {
    let mut ws = connect(&url(&format!("/log?id={id}"))).await.unwrap();
    match ws.recv().await {
        Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
        other => panic!("log {id}: {other:?}"),
    }
}

/// Tells the flaky server to go down (coming back after `up_after_ms`) or up.
async fn flaky(cmd: &str, up_after_ms: Option<u32>) {
    let query = match up_after_ms {
        Some(ms) => format!("/ctl?cmd={cmd}&up_after_ms={ms}"),
        None => format!("/ctl?cmd={cmd}"),
    };
    let mut ws = connect(&url(&query)).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("ok"));
}

/// Reads to the end; the Close seen on the way.
async fn until_end(ws: &mut WebSocket) -> Option<wsproto::CloseFrame> {
    let mut close = None;
    while let Some(message) = ws.recv().await {
        if let Message::Close(frame) = message.unwrap() {
            close = Some(frame);
        }
    }
    close
}

#[wasm_bindgen_test]
async fn echo_text_and_binary_from_0_bytes_to_1_mib() {
    let mut ws = connect(&url("/echo")).await.unwrap();
    assert_eq!(ws.protocol(), None);
    let texts = [
        String::new(),
        "hello".into(),
        "héllo wörld ✓ 🦀 日本語".into(),
        "ü€𝄞".repeat(40_000),
    ];
    for text in texts {
        ws.send(text.as_str()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
    }
    for len in [0, 1, 125, 126, 127, 65_535, 65_536, 65_537, 1 << 20] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        ws.send(data.clone()).await.unwrap();
        match ws.recv().await.unwrap().unwrap() {
            Message::Binary(got) => assert!(got == data, "binary of {len} bytes differs"),
            other => panic!("{len}: {other:?}"),
        }
    }
    ws.close(1000, "done").await.unwrap();
    // The server's echo of our Close: its code (this server sends no
    // reason back).
    let close = until_end(&mut ws).await.unwrap();
    assert_eq!(close.code, CloseCode::NORMAL);
}

#[wasm_bindgen_test]
async fn a_subprotocol_is_offered_and_chosen() {
    let mut ws = ClientBuilder::new(url("/echo"))
        .protocol("chat")
        .protocol("token.secret")
        .connect()
        .await
        .unwrap();
    assert_eq!(ws.protocol().as_deref(), Some("chat"));
    assert_eq!(ws.max_write_buffer(), 1 << 20);
    ws.send("hi").await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
}

#[wasm_bindgen_test]
async fn idle_for_3_s_without_pings_from_script_stays_open() {
    let mut ws = connect(&url("/echo")).await.unwrap();
    sleep_ms(3_000).await;
    ws.send("still here").await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("still here")
    );
    assert_eq!(
        ws.send(Message::ping("x")).await,
        Err(Error::Unsupported("sending a Ping"))
    );
    assert_eq!(
        ws.send(Message::pong("x")).await,
        Err(Error::Unsupported("sending a Pong"))
    );
}

#[wasm_bindgen_test]
async fn the_clients_close_code_and_reason_reach_the_server() {
    for (code, reason) in [(4000, "bye ✓"), (1000, ""), (3000, "x")] {
        let id = unique_id("close");
        let mut ws = connect(&url(&format!("/echo?id={id}"))).await.unwrap();
        ws.close(code, reason).await.unwrap();
        // No silent failure: sends and a second close after it fail.
        assert_eq!(ws.send("late").await, Err(Error::ConnectionClosed));
        assert_eq!(ws.close(1000, "").await, Err(Error::ConnectionClosed));
        // The server's echo: the same code (this server sends no reason
        // back); what it received is in its log.
        let close = until_end(&mut ws).await.unwrap();
        assert_eq!(close.code.as_u16(), code);
        assert!(ws.recv().await.is_none());
        assert_eq!(server_log(&id).await, format!("{code} {reason}"));
    }
}

#[wasm_bindgen_test]
async fn the_servers_close_code_and_reason_reach_the_client() {
    for (code, reason) in [
        (4001, "server says ✓"),
        (1000, ""),
        (1001, "going"),
        (1011, "oops"),
    ] {
        let mut ws = connect(&url("/echo")).await.unwrap();
        ws.send(format!("close:{code}:{reason}")).await.unwrap();
        match ws.recv().await {
            Some(Ok(Message::Close(frame))) => {
                assert_eq!((frame.code.as_u16(), frame.reason.as_str()), (code, reason))
            }
            other => panic!("{code}: {other:?}"),
        }
        assert!(ws.recv().await.is_none());
        assert_eq!(ws.send("late").await, Err(Error::ConnectionClosed));
    }
}

#[wasm_bindgen_test]
async fn close_codes_and_reasons_are_checked_before_the_browser_throws() {
    let mut ws = connect(&url("/echo")).await.unwrap();
    // The RFC's rules, then the browser's (1000 or 3000-4999).
    for code in [
        0, 999, 1001, 1002, 1005, 1006, 1011, 1015, 2999, 5000, 65535,
    ] {
        assert_eq!(
            ws.close(code, "").await,
            Err(Error::Usage(UsageError::InvalidCloseCode(code))),
            "{code}"
        );
    }
    assert_eq!(
        ws.close(1000, &"x".repeat(124)).await,
        Err(Error::Usage(UsageError::CloseReasonTooLong(124)))
    );
    assert_eq!(
        ws.close(1000, &"é".repeat(62)).await,
        Err(Error::Usage(UsageError::CloseReasonTooLong(124)))
    );
    // Still open after all that.
    ws.send("open").await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("open"));
    let id = unique_id("longest");
    let mut ws = connect(&url(&format!("/echo?id={id}"))).await.unwrap();
    let longest = "r".repeat(123);
    ws.close(4999, &longest).await.unwrap();
    assert_eq!(until_end(&mut ws).await.unwrap().code.as_u16(), 4999);
    assert_eq!(server_log(&id).await, format!("4999 {longest}"));
}

#[wasm_bindgen_test]
async fn a_refused_upgrade_and_a_bad_url_are_errors() {
    for path in ["/refuse", "/no-such-path"] {
        match connect(&url(path)).await {
            Err(Error::ConnectFailed { url: u }) => assert_eq!(u, url(path)),
            other => panic!("{path}: {other:?}"),
        }
    }
    for bad in [
        "http://127.0.0.1/",
        "ftp://127.0.0.1/",
        "127.0.0.1:80",
        "ws://",
    ] {
        assert!(
            matches!(connect(bad).await, Err(Error::InvalidRequest(_))),
            "{bad}"
        );
    }
    // A subprotocol that is not a token: the browser's SyntaxError.
    let builder = ClientBuilder::new(url("/echo")).protocol("not a token");
    assert!(matches!(
        builder.connect().await,
        Err(Error::InvalidRequest(_))
    ));
}

#[wasm_bindgen_test]
async fn dropping_closes_with_1000_halves_included() {
    let id = unique_id("drop");
    let mut ws = connect(&url(&format!("/echo?id={id}"))).await.unwrap();
    ws.send("x").await.unwrap();
    ws.recv().await.unwrap().unwrap();
    drop(ws);
    assert_eq!(server_log(&id).await, "1000 ");

    // Split: open while any half lives.
    let id = unique_id("split");
    let ws = connect(&url(&format!("/echo?id={id}"))).await.unwrap();
    let (mut reader, writer) = ws.into_split();
    let second = writer.clone();
    drop(writer);
    second.send("from a clone").await.unwrap();
    assert_eq!(
        reader.recv().await.unwrap().unwrap(),
        Message::text("from a clone")
    );
    drop(reader);
    second.send("reader gone").await.unwrap();
    drop(second);
    assert_eq!(server_log(&id).await, "1000 ");
}

#[wasm_bindgen_test]
async fn a_vanished_server_is_connection_lost_and_the_reconnecting_client_comes_back() {
    let flaky_url = format!("ws://{FLAKY}/echo?greet=1");
    let mut ws = connect(&flaky_url).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hello"));
    flaky("down", None).await;
    match ws.recv().await {
        Some(Err(Error::ConnectionLost { code, .. })) => assert_eq!(code, 1006),
        other => panic!("{other:?}"),
    }
    assert!(ws.recv().await.is_none());
    assert_eq!(ws.send("x").await, Err(Error::ConnectionClosed));
    assert!(matches!(
        connect(&flaky_url).await,
        Err(Error::ConnectFailed { .. })
    ));
    flaky("up", None).await;
    let mut ws = connect(&flaky_url).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hello"));
    drop(ws);

    // The reconnecting client: down for 1.5 s, retried with backoff.
    let retries = Rc::new(RefCell::new(Vec::new()));
    let hooked = Rc::new(RefCell::new(0));
    let (r, h) = (retries.clone(), hooked.clone());
    let backoff = Backoff::default()
        .initial(Duration::from_millis(50))
        .max(Duration::from_millis(400));
    let mut client = ReconnectingClient::new(
        ClientBuilder::new(&flaky_url),
        async move |ws: &mut WebSocket| {
            *h.borrow_mut() += 1;
            ws.send("hook").await
        },
    )
    .backoff(backoff)
    .on_retry(move |attempt, error, delay| {
        r.borrow_mut().push((attempt, error.clone(), delay));
    });
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("hello")
    );
    assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("hook"));
    let start = now_ms();
    flaky("down", Some(1_500)).await;
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("hello")
    );
    let waited = now_ms() - start;
    assert_eq!((client.connects(), *hooked.borrow()), (2, 2));
    let retries = retries.borrow().clone();
    console_log!(
        "reconnected after {waited} ms, {} retries: {:?}",
        retries.len(),
        retries.iter().map(|r| r.2.as_millis()).collect::<Vec<_>>()
    );
    assert!(waited >= 1_400.0, "{waited}");
    assert!(retries.len() >= 4, "{}", retries.len());
    for (i, (attempt, error, delay)) in retries.iter().enumerate() {
        assert_eq!(*attempt as usize, i + 1);
        assert!(matches!(error, Error::ConnectFailed { .. }), "{error:?}");
        let full = backoff.delay_with(i as u32, 0.0);
        assert!(*delay <= full && *delay >= full / 2, "{i}: {delay:?}");
    }
    assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("hook"));
    client.close(1000, "").await.unwrap();
    while let Some(message) = client.recv().await {
        message.unwrap();
    }
}

#[wasm_bindgen_test]
async fn the_reconnect_policy_comes_back_after_1012_and_stops_after_4003() {
    let mut client = ReconnectingClient::new(
        ClientBuilder::new(url("/echo?greet=1")),
        async |_: &mut WebSocket| Ok(()),
    );
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("hello")
    );
    client.send("close:1012:restart").await.unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("hello")
    );
    assert_eq!(client.connects(), 2);
    client.send("close:4003:bye").await.unwrap();
    match client.recv().await {
        Some(Err(Error::ServerClosed(frame))) => {
            assert_eq!((frame.code.as_u16(), frame.reason.as_str()), (4003, "bye"))
        }
        other => panic!("{other:?}"),
    }
    assert!(client.recv().await.is_none());
    assert_eq!(client.connects(), 2);
}

#[wasm_bindgen_test]
async fn sends_wait_while_the_browser_buffer_is_over_the_cap() {
    const CAP: usize = 256 << 10;
    const CHUNK: usize = 64 << 10;
    const TOTAL: usize = 48 << 20;
    let mut ws = ClientBuilder::new(url("/sink?pause_ms=2000"))
        .max_write_buffer(CAP)
        .connect()
        .await
        .unwrap();
    let chunk = vec![7u8; CHUNK];
    let (mut peak, mut sent) = (0, 0);
    let start = now_ms();
    while sent < TOTAL {
        ws.send(chunk.as_slice()).await.unwrap();
        sent += CHUNK;
        peak = peak.max(ws.buffered_amount());
    }
    let took = now_ms() - start;
    ws.flush().await.unwrap();
    assert_eq!(ws.buffered_amount(), 0);
    ws.send("done").await.unwrap();
    let count = ws.recv().await.unwrap().unwrap();
    console_log!(
        "back-pressure: {} MiB sent in {took} ms, bufferedAmount peak {peak} B (cap {CAP} B)",
        TOTAL >> 20
    );
    assert_eq!(count, Message::text(TOTAL.to_string()));
    assert!(peak <= CAP, "peak {peak}");
    assert!(peak >= CAP / 2, "the buffer never filled: peak {peak}");
    assert!(took >= 1_000.0, "sends did not wait: {took} ms");
}

/// Alone in its run (scripts/wasm_test.sh runs it after the others: the
/// tests of a run share the callback count and run concurrently).
#[wasm_bindgen_test]
async fn no_leak_over_1000_connect_close_cycles() {
    async fn cycle() {
        let mut ws = connect(&url("/echo")).await.unwrap();
        ws.send("x").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("x"));
        drop(ws);
    }
    // Every way a socket ends: dropped open (above), closed, lost,
    // refused, invalid; and a send that waited on a timer.
    async fn ends() {
        let mut ws = connect(&url("/echo")).await.unwrap();
        ws.close(1000, "").await.unwrap();
        until_end(&mut ws).await;
        let mut ws = connect(&url("/echo")).await.unwrap();
        ws.send("close:4000:").await.unwrap();
        until_end(&mut ws).await;
        assert!(connect(&url("/refuse")).await.is_err());
        assert!(connect("ftp://x/").await.is_err());
        let ws = ClientBuilder::new(url("/echo"))
            .max_write_buffer(1)
            .connect()
            .await
            .unwrap();
        let (mut reader, writer) = ws.into_split();
        writer.send(vec![0u8; 100_000]).await.unwrap();
        writer.send(vec![0u8; 100_000]).await.unwrap();
        writer.flush().await.unwrap();
        reader.recv().await.unwrap().unwrap();
    }
    assert_eq!(live_callbacks(), 0, "another test is running");
    for _ in 0..50 {
        cycle().await;
        ends().await;
    }
    let before = wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .unwrap()
        .buffer()
        .dyn_into::<js_sys::ArrayBuffer>()
        .unwrap()
        .byte_length();
    let heap_before = js_heap();
    let start = now_ms();
    for i in 0..1_000 {
        cycle().await;
        if i % 10 == 0 {
            ends().await;
        }
        assert_eq!(live_callbacks(), 0, "cycle {i}");
    }
    let took = now_ms() - start;
    let after = wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .unwrap()
        .buffer()
        .dyn_into::<js_sys::ArrayBuffer>()
        .unwrap()
        .byte_length();
    let heap_after = js_heap();
    console_log!(
        "leak check: 1000 cycles in {took} ms; live callbacks {}; wasm memory {before} -> {after} B; JS heap after gc {heap_before:?} -> {heap_after:?} B",
        live_callbacks()
    );
    assert_eq!(live_callbacks(), 0);
    assert_eq!(after, before, "wasm memory grew");
}

/// The JS heap in use after a garbage collection (Chromium with
/// `--js-flags=--expose-gc`), when the browser tells.
fn js_heap() -> Option<f64> {
    let global = js_sys::global();
    if let Ok(gc) = js_sys::Reflect::get(&global, &"gc".into()) {
        if let Some(gc) = gc.dyn_ref::<js_sys::Function>() {
            let _ = gc.call0(&JsValue::NULL);
        }
    }
    let performance = js_sys::Reflect::get(&global, &"performance".into()).ok()?;
    let memory = js_sys::Reflect::get(&performance, &"memory".into()).ok()?;
    js_sys::Reflect::get(&memory, &"usedJSHeapSize".into())
        .ok()?
        .as_f64()
}

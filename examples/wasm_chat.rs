//! The chat page's client in Rust, with `wsproto::wasm`: the same room as
//! `chat.html` (served by `chat_server`), in a page at `/wasm/` whose
//! script is this program compiled to WebAssembly.
//!
//! ```text
//! cargo build -p wsproto-examples --example wasm_chat --target wasm32-unknown-unknown \
//!     --no-default-features --features wasm
//! wasm-bindgen --target web --out-dir target/wasm-chat \
//!     target/wasm32-unknown-unknown/debug/examples/wasm_chat.wasm
//! cargo run --example chat_server -- 127.0.0.1:8080 --wasm target/wasm-chat
//! ```
//!
//! Then open `http://127.0.0.1:8080/wasm/` (and `/` for the JavaScript
//! page: both talk in the same room). It speaks the chat protocol as the
//! JavaScript page does (README, "The chat protocol"; the frames read
//! with `common/chat_log.rs`): it shows posts as `NAME: TEXT` (`me: TEXT`
//! for its own) and notices as `* TEXT`, sends what is typed as
//! `{"cid":..,"text":..}` and keeps it until acknowledged, and after the
//! connection ends shows the close code and comes back with `?since=` its
//! last post id, sending again what was not acknowledged, as the
//! JavaScript page does (soon after 1001 and 1012, never after
//! 1008 or 4000–4999, with the crate's `Backoff` otherwise). An
//! application that need not show each disconnection would use
//! `wsproto::wasm::ReconnectingClient`, which does all of it.

#[path = "common/chat_log.rs"]
mod chat_log;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Document, HtmlInputElement};
use wsproto::wasm::{Backoff, Error, Message, connect};

/// Runs when the module is loaded: connects and wires the form.
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let location = window.location();
    let scheme = if location.protocol()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let name = web_sys::UrlSearchParams::new_with_str(&location.search()?)?.get("name");
    let mut url = format!("{scheme}://{}/ws", location.host()?);
    if let Some(name) = name {
        url = format!("{url}?name={name}");
    }

    // What the form hands the connection's task.
    let outbox: Rc<RefCell<Vec<String>>> = Rc::default();
    let wake: Rc<RefCell<Option<js_sys::Function>>> = Rc::default();
    let form = document.get_element_by_id("form").ok_or("no #form")?;
    let input: HtmlInputElement = document
        .get_element_by_id("text")
        .ok_or("no #text")?
        .dyn_into()?;
    {
        let (outbox, wake, input) = (outbox.clone(), wake.clone(), input.clone());
        let on_submit = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            event.prevent_default();
            let text = input.value();
            if !text.is_empty() {
                outbox.borrow_mut().push(text);
                input.set_value("");
                if let Some(wake) = wake.borrow_mut().take() {
                    let _ = wake.call0(&JsValue::NULL);
                }
            }
        });
        form.add_event_listener_with_callback("submit", on_submit.as_ref().unchecked_ref())?;
        // The page lives as long as the form: never freed.
        on_submit.forget();
    }

    wasm_bindgen_futures::spawn_local(run(document, url, outbox, wake));
    Ok(())
}

/// Connects, shows, sends, and comes back after the connection ends: the
/// JavaScript page's policy (chat.html's `delayAfter`), on the crate's
/// `Backoff` with the browser's `Math.random()`.
async fn run(
    document: Document,
    url: String,
    outbox: Rc<RefCell<Vec<String>>>,
    wake: Rc<RefCell<Option<js_sys::Function>>>,
) {
    let backoff = Backoff::default();
    let mut retries = 0u32;
    let mut chat = Chat {
        page: format!(
            "{:08x}",
            (js_sys::Math::random() * f64::from(u32::MAX)) as u32
        ),
        ..Chat::default()
    };
    loop {
        set_state(&document, "connecting…", "connecting", None);
        let url = match &chat.last_id {
            Some(id) if url.contains('?') => format!("{url}&since={id}"),
            Some(id) => format!("{url}?since={id}"),
            None => url.clone(),
        };
        let mut ws = match connect(&url).await {
            Ok(ws) => ws,
            Err(e) => {
                show(&document, &format!("* connection error: {e}"), "notice");
                let delay = backoff.delay_with(retries, js_sys::Math::random());
                retries += 1;
                set_state(&document, "disconnected, retrying", "closed", Some(1006));
                sleep(delay).await;
                continue;
            }
        };
        retries = 0;
        set_state(&document, "connected", "open", None);
        // What the last connection did not get acknowledged, in order.
        for (cid, text) in chat.pending.clone() {
            let _ = ws.send(post(&cid, &text)).await;
        }
        // Until the connection ends: its code and reason.
        let (code, reason) = loop {
            let typed: Vec<String> = outbox.borrow_mut().drain(..).collect();
            for text in typed {
                let cid = format!("{}-{}", chat.page, chat.next_cid);
                chat.next_cid += 1;
                chat.pending.push((cid.clone(), text.clone()));
                if let Err(e) = ws.send(post(&cid, &text)).await {
                    show(&document, &format!("* not sent yet: {e}"), "notice");
                }
            }
            let typed = js_sys::Promise::new(&mut |resolve, _| {
                *wake.borrow_mut() = Some(resolve);
            });
            let typed = wasm_bindgen_futures::JsFuture::from(typed);
            match first(ws.recv(), typed).await {
                Some(Some(Ok(Message::Text(text)))) => chat.receive(&document, &text),
                Some(Some(Ok(Message::Close(frame)))) => {
                    break (frame.code.as_u16(), frame.reason.as_str().to_owned());
                }
                Some(Some(Ok(_))) => {}
                Some(Some(Err(Error::ConnectionLost { code, reason }))) => break (code, reason),
                Some(Some(Err(e))) => break (1006, e.to_string()),
                Some(None) => break (1006, String::new()),
                // Typed: send it.
                None => {}
            }
        };
        let why = if reason.is_empty() {
            code.to_string()
        } else {
            format!("{code}: {reason}")
        };
        let delay = match code {
            1001 | 1012 => Duration::from_millis(250).mul_f64(js_sys::Math::random()),
            1011 | 1013 | 1014 => backoff.delay_with(0, js_sys::Math::random()),
            1002 | 1003 | 1007..=1010 | 4000..=4999 => {
                set_state(
                    &document,
                    &format!("disconnected ({why}), not reconnecting"),
                    "closed",
                    Some(code),
                );
                return;
            }
            _ => Duration::ZERO,
        };
        set_state(
            &document,
            &format!("disconnected ({why}), retrying"),
            "closed",
            Some(code),
        );
        sleep(delay).await;
    }
}

/// What the page keeps across connections.
#[derive(Default)]
struct Chat {
    /// The id of the last post shown: `?since=` on the next connection.
    last_id: Option<String>,
    /// This page's name, as the server said it.
    name: Option<String>,
    /// Posts sent and not yet acknowledged: (cid, text), in order.
    pending: Vec<(String, String)>,
    /// Random, tells this page's cids apart.
    page: String,
    next_cid: u64,
}

impl Chat {
    /// One frame from the server, shown as chat.html shows it.
    fn receive(&mut self, document: &Document, frame: &str) {
        if frame == chat_log::GAP_FRAME {
            let line = "* some messages were missed: they are no longer kept";
            show(document, line, "notice gap");
            return;
        }
        let Some(fields) = chat_log::parse_object(frame) else {
            let class = if frame.starts_with("* ") {
                "notice"
            } else {
                ""
            };
            show(document, frame, class);
            return;
        };
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if let Some(cid) = get("ack") {
            self.pending.retain(|(c, _)| c != cid);
        } else if let Some(notice) = get("notice") {
            if let Some(name) = get("name") {
                self.name = Some(name.to_owned());
            }
            if let (Some(last), None) = (get("last"), &self.last_id) {
                self.last_id = Some(last.to_owned());
            }
            show(document, &format!("* {notice}"), "notice");
        } else if let (Some(id), Some(from), Some(text)) = (get("id"), get("from"), get("text")) {
            self.last_id = Some(id.to_owned());
            if self.name.as_deref() == Some(from) {
                show(document, &format!("me: {text}"), "mine");
            } else {
                show(document, &format!("{from}: {text}"), "");
            }
        }
    }
}

/// `{"cid":CID,"text":TEXT}`
fn post(cid: &str, text: &str) -> String {
    format!(
        "{{\"cid\":{},\"text\":{}}}",
        chat_log::quote(cid),
        chat_log::quote(text)
    )
}

/// Whichever comes first: the message (`Some`) or the typing (`None`).
async fn first<T>(
    received: impl Future<Output = T>,
    typed: wasm_bindgen_futures::JsFuture,
) -> Option<T> {
    let mut received = std::pin::pin!(received);
    let mut typed = std::pin::pin!(typed);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(message) = received.as_mut().poll(cx) {
            return Poll::Ready(Some(message));
        }
        typed.as_mut().poll(cx).map(|_| None)
    })
    .await
}

/// A sleep on the browser's clock.
async fn sleep(delay: Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                delay.as_millis().min(i32::MAX as u128) as i32,
            );
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// The connection state shown (`#state`, with `data-state` and, once
/// closed, `data-code`); the form is usable only while open.
fn set_state(document: &Document, label: &str, value: &str, code: Option<u16>) {
    if let Some(el) = document.get_element_by_id("state") {
        el.set_text_content(Some(label));
        let _ = el.set_attribute("data-state", value);
        if let Some(code) = code {
            let _ = el.set_attribute("data-code", &code.to_string());
        }
    }
    for id in ["text", "send"] {
        if let Some(el) = document.get_element_by_id(id) {
            let _ = if value == "open" {
                el.remove_attribute("disabled")
            } else {
                el.set_attribute("disabled", "")
            };
        }
    }
}

/// Adds a line to the log.
fn show(document: &Document, text: &str, class: &str) {
    let (Some(log), Ok(li)) = (
        document.get_element_by_id("log"),
        document.create_element("li"),
    ) else {
        return;
    };
    li.set_text_content(Some(text));
    if !class.is_empty() {
        li.set_class_name(class);
    }
    let _ = log.append_child(&li);
}

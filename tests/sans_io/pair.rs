//! Two endpoints in memory, a client and a server pumping bytes into each
//! other: closing handshakes, deadlines with synthetic instants, and a
//! property test over message sequences, fragmentation and chunking.

use crate::support;

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use support::sans_io::*;
use wsproto::{
    CloseCode, Config, Message, ProtocolError, Role, State, Timeout, Transmit, Utf8Bytes,
};

fn pair(config: Config) -> (Conn, Conn) {
    (
        conn(Role::Client, config.clone()),
        conn(Role::Server, config),
    )
}

/// Pumps both ways until neither has anything to say.
fn settle(client: &mut Conn, server: &mut Conn) {
    for _ in 0..16 {
        let a = client.buffered_amount() + server.buffered_amount();
        pump(client, server);
        pump(server, client);
        if a == 0 && client.buffered_amount() + server.buffered_amount() == 0 {
            break;
        }
    }
}

#[test]
fn client_initiated_close() {
    let (mut c, mut s) = pair(Config::default());
    c.send_text("hi").unwrap();
    c.close(CloseCode::NORMAL, "done").unwrap();
    assert!(!pump(&mut c, &mut s));
    assert_eq!(
        drain_events(&mut s),
        [
            Message::Text(Utf8Bytes::from("hi")),
            Message::Close(wsproto::CloseFrame {
                code: CloseCode::NORMAL,
                reason: Utf8Bytes::from("done")
            })
        ]
    );
    assert_eq!(s.state(), State::Closed);
    // The server echoes and closes TCP first.
    assert!(pump(&mut s, &mut c));
    assert!(s.is_finished());
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.close_frame().unwrap().code, CloseCode::NORMAL);
    // The client saw the server's end of stream: it shuts down too.
    assert_eq!(c.poll_transmit(), Some(Transmit::Shutdown));
    assert!(c.is_finished());
}

#[test]
fn server_initiated_close() {
    let (mut c, mut s) = pair(Config::default());
    s.close(4001, "going").unwrap();
    pump(&mut s, &mut c);
    assert_eq!(c.state(), State::Closed);
    assert!(!pump(&mut c, &mut s), "the client does not close TCP first");
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.close_frame().unwrap().code.as_u16(), 4001);
    assert!(pump(&mut s, &mut c));
    assert!(c.is_finished() || c.poll_transmit() == Some(Transmit::Shutdown));
}

#[test]
fn simultaneous_close() {
    // RFC 6455 §5.5.1: "If a client and server both send a Close message at
    // the same time, both endpoints will have sent and received a Close
    // message".
    let (mut c, mut s) = pair(Config::default());
    c.close(3001, "").unwrap();
    s.close(3002, "").unwrap();
    pump(&mut c, &mut s);
    pump(&mut s, &mut c);
    // Each sees the other's code (RFC 6455 §7.1.5 NOTE), and no second Close
    // went out.
    assert_eq!(c.close_frame().unwrap().code.as_u16(), 3002);
    assert_eq!(s.close_frame().unwrap().code.as_u16(), 3001);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn failure_reaches_the_peer() {
    let (mut c, mut s) = pair(Config::default());
    // A client that (wrongly) sends invalid UTF-8 as text.
    let err = s
        .receive_data(&cf(true, 1, b"\xff"))
        .expect_err("invalid UTF-8");
    assert_eq!(err.close_code(), 1007);
    assert!(pump(&mut s, &mut c));
    let events = drain_events(&mut c);
    let Message::Close(frame) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(frame.code, CloseCode::INVALID_PAYLOAD);
    assert!(!frame.reason.is_empty(), "the reason says what failed");
}

#[test]
fn close_timeout() {
    let mut config = Config::default();
    config.close_timeout = Duration::from_secs(5);
    let mut c = conn(Role::Client, config);
    let t0 = now();
    c.handle_timeout(t0);
    assert_eq!(c.poll_timeout(), None, "no keepalive configured");
    c.close(1000, "").unwrap();
    // Something happened since the last call: call again now.
    assert_eq!(c.poll_timeout(), Some(t0));
    let t1 = t0 + Duration::from_secs(1);
    c.handle_timeout(t1);
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(5)));
    c.handle_timeout(t1 + Duration::from_secs(4));
    assert_eq!(c.state(), State::Closing);
    c.handle_timeout(t1 + Duration::from_secs(5));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.close_frame().unwrap().code, CloseCode::ABNORMAL);
    let (out, shutdown) = drain_output(&mut c);
    assert_eq!(frames(&out).len(), 1);
    assert!(shutdown && c.is_finished());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn client_stops_waiting_for_the_servers_eof() {
    let mut c = conn(Role::Client, Config::default());
    let t0 = now();
    c.handle_timeout(t0);
    c.receive_data(&sf(true, 8, &1000u16.to_be_bytes()))
        .unwrap();
    c.handle_timeout(t0);
    assert_eq!(c.state(), State::Closed);
    let (_, shutdown) = drain_output(&mut c);
    assert!(!shutdown);
    let deadline = c.poll_timeout().unwrap();
    assert_eq!(deadline, t0 + Duration::from_secs(10));
    c.handle_timeout(deadline);
    assert_eq!(drain_output(&mut c), (vec![], true));
}

#[test]
fn keepalive_pings_after_silence_and_fails_after_pong_timeout() {
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_secs(30));
    config.pong_timeout = Duration::from_secs(10);
    let mut s = conn(Role::Server, config);
    let t0 = now();
    s.handle_timeout(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    // Traffic at t0 + 20 pushes the ping back.
    s.receive_data(&cf(true, 1, b"hello")).unwrap();
    let t20 = t0 + Duration::from_secs(20);
    s.handle_timeout(t20);
    assert_eq!(s.poll_timeout(), Some(t20 + Duration::from_secs(30)));
    s.handle_timeout(t0 + Duration::from_secs(49));
    assert_eq!(s.buffered_amount(), 0);
    // 30 s of silence: an empty ping.
    let t50 = t0 + Duration::from_secs(50);
    s.handle_timeout(t50);
    assert_eq!(drain_output(&mut s).0, sf(true, 9, b""));
    assert_eq!(s.poll_timeout(), Some(t50 + Duration::from_secs(10)));
    // The pong comes: the cycle restarts from its arrival.
    s.receive_data(&cf(true, 0xA, b"")).unwrap();
    let t55 = t0 + Duration::from_secs(55);
    s.handle_timeout(t55);
    assert_eq!(s.poll_timeout(), Some(t55 + Duration::from_secs(30)));
    // Ping again, and this time silence.
    let t85 = t55 + Duration::from_secs(30);
    s.handle_timeout(t85);
    assert_eq!(frames(&drain_output(&mut s).0).len(), 1);
    assert_eq!(s.handle_timeout(t85 + Duration::from_secs(9)), None);
    assert_eq!(s.state(), State::Open);
    // The pong timeout: reported by the call that fires it, as its own
    // outcome, not as the peer's protocol violation.
    assert_eq!(
        s.handle_timeout(t85 + Duration::from_secs(10)),
        Some(Timeout::Keepalive)
    );
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.timed_out(), Some(Timeout::Keepalive));
    assert_eq!(s.error(), None);
    let (out, shutdown) = drain_output(&mut s);
    // Close 1011 (0x03f3), 2 + 48 bytes, reason as below: byte for byte.
    let mut close = vec![0x88, 50, 0x03, 0xf3];
    close.extend_from_slice(b"no traffic from the peer within the pong timeout");
    assert_eq!(out, close);
    assert!(shutdown);
    // Locally the same frame as on the wire, reason included.
    let frame = s.close_frame().unwrap();
    assert_eq!(frame.code, CloseCode::INTERNAL_ERROR);
    assert_eq!(
        frame.reason,
        "no traffic from the peer within the pong timeout"
    );
    // Input after the end is ignored, not an error; the outcome is sticky.
    assert_eq!(s.receive_data(b"x"), Ok(()));
    assert_eq!(
        s.handle_timeout(t85 + Duration::from_secs(11)),
        Some(Timeout::Keepalive)
    );
    assert!(s.is_finished());
}

/// The close timeout is reported the same way: a deadline, not a peer
/// fault.
#[test]
fn close_timeout_is_reported_as_a_timeout() {
    let mut s = conn(Role::Server, Config::default());
    let t0 = now();
    s.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(s.handle_timeout(t0), None);
    let deadline = s.poll_timeout().unwrap();
    assert_eq!(s.handle_timeout(deadline), Some(Timeout::Close));
    assert_eq!(s.timed_out(), Some(Timeout::Close));
    assert_eq!(s.error(), None);
    assert_eq!(s.close_frame().unwrap().code, CloseCode::ABNORMAL);
}

/// A failure's Close reason is the same locally as on the wire.
#[test]
fn failure_reason_is_the_same_locally_as_on_the_wire() {
    let mut s = conn(Role::Server, Config::default());
    // An unmasked text frame from a "client".
    assert_eq!(
        s.receive_data(&[0x81, 0x00]),
        Err(ProtocolError::UnmaskedFrame)
    );
    assert_eq!(s.poll_event(), None);
    let (out, _) = drain_output(&mut s);
    let mut close = vec![0x88, 30, 0x03, 0xea];
    close.extend_from_slice(b"unmasked frame from a client");
    assert_eq!(out, close);
    let frame = s.close_frame().unwrap();
    assert_eq!(frame.code, CloseCode::PROTOCOL_ERROR);
    assert_eq!(frame.reason, "unmasked frame from a client");
    assert_eq!(s.timed_out(), None);
}

/// A driver that sleeps until `poll_timeout` before anything happens must
/// still wake for the first keepalive: the deadline is known from creation.
#[test]
fn keepalive_deadline_is_reported_from_creation() {
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_secs(30));
    config.pong_timeout = Duration::from_secs(10);
    let t0 = now();
    for role in [Role::Server, Role::Client] {
        #[cfg(feature = "std")]
        let mut c = {
            let mut c = wsproto::Connection::new_at(role, config.clone(), t0);
            c.set_mask_source(|| support::wire::MASK_KEY);
            c
        };
        // Without `std`: the constructor, then the time at once.
        #[cfg(not(feature = "std"))]
        let mut c = {
            let mut c = conn(role, config.clone());
            c.handle_timeout(t0);
            c
        };
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(30)));
        // The driver sleeps until then, and nothing else happened.
        c.handle_timeout(t0 + Duration::from_secs(30));
        let ping = match role {
            Role::Server => sf(true, 9, b""),
            Role::Client => cf(true, 9, b""),
        };
        assert_eq!(drain_output(&mut c).0, ping);
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(40)));
    }
    // Without the time, `new` cannot know it (documented): `None` until
    // the first `handle_timeout`.
    let mut c = conn(Role::Server, config);
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(t0);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(30)));
}

#[test]
fn keepalive_between_two_endpoints() {
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_secs(1));
    let (mut c, mut s) = pair(config);
    let mut now = now();
    for _ in 0..100 {
        c.handle_timeout(now);
        s.handle_timeout(now);
        settle(&mut c, &mut s);
        now += Duration::from_millis(700);
    }
    // Both stay open: each side's pings are answered.
    assert_eq!((c.state(), s.state()), (State::Open, State::Open));
    let pongs = drain_events(&mut c)
        .into_iter()
        .filter(|e| matches!(e, Message::Pong(_)))
        .count();
    assert!(pongs > 0);
}

/// A message in the property test.
#[derive(Debug, Clone)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        ".{0,300}".prop_map(Msg::Text),
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Msg::Binary),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Msg::Ping),
    ]
}

/// Sends `msgs` from `from` to `to`, delivering the bytes in chunks whose
/// sizes cycle through `chunks`; returns the events `to` saw.
fn deliver(from: &mut Conn, to: &mut Conn, msgs: &[Msg], chunks: &[usize]) -> Vec<Message> {
    for m in msgs {
        match m {
            Msg::Text(t) => from.send_text(t.clone()).unwrap(),
            Msg::Binary(b) => from.send_binary(b.clone()).unwrap(),
            Msg::Ping(p) => from.send_ping(p).unwrap(),
        }
    }
    let (bytes, _) = drain_output(from);
    let mut events = Vec::new();
    let mut at = 0;
    for &chunk in chunks.iter().cycle() {
        if at >= bytes.len() {
            break;
        }
        let end = (at + chunk).min(bytes.len());
        to.receive_data(&bytes[at..end]).unwrap();
        events.extend(drain_events(to));
        at = end;
    }
    events
}

fn expected(msgs: &[Msg]) -> Vec<Message> {
    msgs.iter()
        .map(|m| match m {
            Msg::Text(t) => Message::Text(Utf8Bytes::from(t.as_str())),
            Msg::Binary(b) => Message::Binary(Bytes::copy_from_slice(b)),
            Msg::Ping(p) => Message::Ping(Bytes::copy_from_slice(p)),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_messages_any_fragmentation_any_chunking(
        msgs in proptest::collection::vec(msg(), 0..12),
        fragment in proptest::option::of(1usize..2000),
        chunks in proptest::collection::vec(1usize..700, 1..8),
    ) {
        let mut config = Config::default();
        config.fragment_size = fragment;
        let (mut c, mut s) = pair(config);
        // Client to server (masked), then server to client.
        let got = deliver(&mut c, &mut s, &msgs, &chunks);
        prop_assert_eq!(got, expected(&msgs));
        let got = deliver(&mut s, &mut c, &msgs, &chunks);
        // The client also sees the pongs its pings earned, same payloads.
        let (pongs, got): (Vec<Message>, Vec<Message>) =
            got.into_iter().partition(|e| matches!(e, Message::Pong(_)));
        prop_assert_eq!(got, expected(&msgs));
        let pings: Vec<Message> = msgs
            .iter()
            .filter_map(|m| match m {
                Msg::Ping(p) => Some(Message::Pong(Bytes::copy_from_slice(p))),
                _ => None,
            })
            .collect();
        prop_assert_eq!(pongs, pings);
        prop_assert_eq!(c.state(), State::Open);
        prop_assert_eq!(s.state(), State::Open);
    }
}

#[test]
fn connection_is_send() {
    // Adapters move a connection into a thread or share it behind a lock.
    fn assert_send<T: Send>() {}
    assert_send::<Conn>();
    assert_send::<Message>();
}

#[test]
fn peer_vanishing_while_we_close_is_1006() {
    let (mut c, mut s) = pair(Config::default());
    s.close(1001, "restart").unwrap();
    pump(&mut s, &mut c);
    // The client's echo never arrives: the connection drops.
    s.receive_eof();
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.close_frame().unwrap().code, CloseCode::ABNORMAL);
    let (out, shutdown) = drain_output(&mut s);
    assert!(out.is_empty() && shutdown);
}

#[test]
fn large_owned_payloads_round_trip_in_both_roles() {
    let (mut c, mut s) = pair(Config::default());
    let big = vec![0xA5u8; 1 << 20];
    c.send_binary(big.clone()).unwrap();
    s.send_text("é".repeat(1 << 18)).unwrap();
    settle(&mut c, &mut s);
    assert_eq!(drain_events(&mut s), [Message::Binary(Bytes::from(big))]);
    let Message::Text(text) = &drain_events(&mut c)[0] else {
        panic!()
    };
    assert_eq!(text.len(), 1 << 19);
}

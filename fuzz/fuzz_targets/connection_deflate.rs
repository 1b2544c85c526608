//! Arbitrary bytes into a client connection with permessage-deflate agreed
//! (parameters from the first byte), in chunks the data chooses, echoing
//! every message (so it is inflated, validated and compressed again). No
//! panic; inflated messages stay under the limit; the outgoing buffer stays
//! bounded; the connection always ends finished after end of stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsproto::deflate::DeflateParams;
use wsproto::{Config, Connection, Message, Role, Transmit};

fuzz_target!(|data: &[u8]| {
    let Some((&setup, mut rest)) = data.split_first() else {
        return;
    };
    let mut config = Config::default();
    config.max_frame_size = 1 << 16;
    config.max_message_size = 1 << 17;
    config.max_fragments = 64;
    config.max_write_buffer = 1 << 12;
    let limit = config.max_message_size as usize;
    let bound = config.max_write_buffer + limit + limit / 64 + 512;
    let mut params = DeflateParams::default();
    params.server_no_context_takeover = setup & 1 != 0;
    params.client_no_context_takeover = setup & 2 != 0;
    params.server_max_window_bits = 8 + (setup >> 2 & 7);
    params.client_max_window_bits = 8 + (setup >> 5 & 7);
    let mut conn = Connection::new(Role::Client, config);
    conn.set_deflate(params);
    conn.set_mask_source(|| [0x37, 0xfa, 0x21, 0x3d]);
    let mut shutdown = false;
    let mut drain = |conn: &mut Connection| {
        while let Some(t) = conn.poll_transmit() {
            assert!(!shutdown, "nothing after the shutdown");
            shutdown = matches!(t, Transmit::Shutdown);
        }
    };
    while let Some((&control, tail)) = rest.split_first() {
        // Low 7 bits: chunk length; bit 7: the peer reads.
        let len = usize::from(control & 0x7f) * 3 + 1;
        let (chunk, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;
        let _ = conn.receive_data(chunk);
        while let Some(event) = conn.poll_event() {
            let _ = match event {
                Message::Text(text) => {
                    assert!(text.len() <= limit);
                    conn.send_text(text)
                }
                Message::Binary(bytes) => {
                    assert!(bytes.len() <= limit);
                    conn.send_binary(bytes)
                }
                _ => Ok(()),
            };
        }
        if control & 0x80 != 0 {
            drain(&mut conn);
        }
        assert!(
            conn.buffered_amount() <= bound,
            "{}",
            conn.buffered_amount()
        );
    }
    conn.receive_eof();
    drain(&mut conn);
    assert!(conn.is_finished());
});

//! Code shared by the fuzz targets.

use std::time::{Duration, Instant};

use wsproto::{Config, Connection, Message, Role, Transmit};

/// Arbitrary bytes into a connection of `role`, in chunks the data chooses,
/// with an echoing application, keepalive deadlines, and a peer that
/// sometimes stops reading. No panic; the outgoing buffer stays bounded;
/// the connection always ends finished after end of stream.
pub fn drive_connection(role: Role, data: &[u8]) {
    let mut config = Config::default();
    // Frames up to 128 KiB: from 64 KiB on, the connection copies a
    // payload straight from its input instead of through its buffer.
    config.max_frame_size = 1 << 17;
    config.max_message_size = 1 << 17;
    config.max_fragments = 64;
    config.max_write_buffer = 1 << 12;
    config.ping_interval = Some(Duration::from_secs(1));
    config.pong_timeout = Duration::from_secs(1);
    let bound = config.max_write_buffer + config.max_message_size as usize + 512;
    let mut conn = Connection::new(role, config);
    conn.set_mask_source(|| [0x37, 0xfa, 0x21, 0x3d]);
    let mut now = Instant::now();
    conn.handle_timeout(now);
    let mut shutdown = false;
    let mut drain = |conn: &mut Connection| {
        while let Some(t) = conn.poll_transmit() {
            assert!(!shutdown, "nothing after the shutdown");
            shutdown = matches!(t, Transmit::Shutdown);
        }
    };
    let mut rest = data;
    while let Some((&control, tail)) = rest.split_first() {
        // Low 6 bits: chunk length; bit 6: the peer reads; bit 7: time passes.
        let len = usize::from(control & 0x3f) * 7 + 1;
        let (chunk, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;
        let _ = conn.receive_data(chunk);
        while let Some(event) = conn.poll_event() {
            let _ = match event {
                Message::Text(text) => conn.send_text(text),
                Message::Binary(bytes) => conn.send_binary(bytes),
                Message::Ping(payload) if payload.len() % 2 == 1 => conn.close(1000, "bye"),
                _ => Ok(()),
            };
        }
        if control & 0x80 != 0 {
            now += Duration::from_millis(700);
        }
        conn.handle_timeout(now);
        if control & 0x40 != 0 {
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
}

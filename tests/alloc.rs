//! Heap allocations per message in steady state, counted by a global
//! allocator (per thread, so tests running in parallel do not disturb each
//! other).
//!
//! Measured (and asserted): once buffers are warm, receiving a message that
//! fits the buffer allocates nothing; sending allocates nothing: a borrowed
//! `&str`/`&[u8]`, a static or shared `Bytes`, small or 64 KiB, either role,
//! costs zero, and a caller's `String` is the one allocation of its send.
//! An idle connection holds no heap memory at all.

mod support;

use bytes::Bytes;
use support::alloc::{Counting, allocations, held_bytes};
use support::sans_io::*;
use wsproto::{Config, Message, Role, Utf8Bytes};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn write_out(conn: &mut Conn) {
    while let Some(t) = conn.poll_transmit() {
        drop(t);
    }
}

const N: usize = 1000;

#[test]
fn receiving_small_messages_allocates_nothing() {
    let mut server = conn(Role::Server, Config::default());
    let frame = cf(true, 1, b"sixteen byte msg");
    let mut one = || {
        server.receive_data(&frame).unwrap();
        let Some(Message::Text(text)) = server.poll_event() else {
            panic!()
        };
        assert_eq!(text.len(), 16);
    };
    for _ in 0..100 {
        one();
    }
    assert_eq!(allocations(|| (0..N).for_each(|_| one())), 0);

    // Many frames per read.
    let batch: Vec<u8> = (0..64).flat_map(|_| frame.clone()).collect();
    let mut many = || {
        server.receive_data(&batch).unwrap();
        while let Some(event) = server.poll_event() {
            assert!(matches!(event, Message::Text(_)));
        }
    };
    for _ in 0..10 {
        many();
    }
    assert_eq!(allocations(|| (0..N / 10).for_each(|_| many())), 0);
}

/// Reading into the spare capacity the connection lends
/// (`receive_buf_mut`, what an async reader uses) allocates nothing either,
/// for one small message per read or many.
#[test]
fn receiving_through_receive_buf_mut_allocates_nothing() {
    use bytes::BufMut;
    let mut server = conn(Role::Server, Config::default());
    let frame = cf(true, 1, b"sixteen byte msg");
    let batch: Vec<u8> = (0..64).flat_map(|_| frame.clone()).collect();
    for input in [&frame, &batch] {
        let mut read = || {
            // A read of up to 64 KiB that returns what the peer sent.
            server.receive_buf_mut(64 << 10).put_slice(input);
            server.receive_commit(input.len()).unwrap();
            let mut n = 0;
            while let Some(event) = server.poll_event() {
                assert!(matches!(event, Message::Text(ref t) if t.len() == 16));
                n += 1;
            }
            assert_eq!(n, input.len() / frame.len());
        };
        for _ in 0..100 {
            read();
        }
        assert_eq!(allocations(|| (0..N).for_each(|_| read())), 0);
    }
}

#[test]
fn receiving_large_messages_in_pieces_allocates_nothing() {
    let mut client = conn(Role::Client, Config::default());
    let frame = sf(true, 2, &vec![7u8; 64 << 10]);
    let mut one = || {
        for piece in frame.chunks(16 << 10) {
            client.receive_data(piece).unwrap();
        }
        let Some(Message::Binary(data)) = client.poll_event() else {
            panic!()
        };
        assert_eq!(data.len(), 64 << 10);
    };
    for _ in 0..10 {
        one();
    }
    assert_eq!(allocations(|| (0..100).for_each(|_| one())), 0);
}

/// Large messages back to back in reads that never end on a frame
/// boundary: each read brings the end of one message and the start of the
/// next, which is copied straight from the input while the message before
/// it is still queued. Once warm, that allocates nothing either.
#[test]
fn large_messages_across_reads_allocate_nothing() {
    // (payload, read size, messages)
    let cases = [
        (64 << 10, 64 << 10, 64),
        (64 << 10, 128 << 10, 64),
        (100_000, 16 << 10, 48),
        (1 << 20, 128 << 10, 24),
    ];
    for (size, read, count) in cases {
        for role in [Role::Server, Role::Client] {
            let frame = match role {
                Role::Server => cf(true, 2, &vec![7u8; size]),
                Role::Client => sf(true, 2, &vec![7u8; size]),
            };
            let wire = frame.repeat(count);
            let mut c = conn(role, Config::default());
            let mut received = 0;
            let mut feed = |pieces: &[u8]| {
                for piece in pieces.chunks(read) {
                    c.receive_data(piece).unwrap();
                    while let Some(event) = c.poll_event() {
                        assert!(matches!(event, Message::Binary(ref b) if b.len() == size));
                        received += 1;
                    }
                }
            };
            // A quarter to warm up, cut at a multiple of the read size so
            // that the reads stay as they are.
            let warm = (wire.len() / 4) / read * read;
            feed(&wire[..warm]);
            let allocs = allocations(|| feed(&wire[warm..]));
            assert_eq!(received, count, "{role:?} {size} B in {read} B reads");
            assert_eq!(allocs, 0, "{role:?} {size} B in {read} B reads");
        }
    }
}

#[test]
fn sending_allocates_only_the_callers_payload() {
    for role in [Role::Server, Role::Client] {
        let mut c = conn(role, Config::default());
        let small = Bytes::from_static(b"sixteen byte msg");
        let large = Bytes::from(vec![1u8; 64 << 10]);
        let large_text = "x".repeat(64 << 10);
        let sends = |c: &mut Conn| {
            c.send_binary(small.clone()).unwrap();
            c.send_binary(&b"borrowed bytes"[..]).unwrap();
            c.send_text("borrowed text").unwrap();
            c.send_text(Utf8Bytes::from_static("sixteen byte msg"))
                .unwrap();
            c.send_ping(b"p").unwrap();
            // A shared large payload: a server passes it through, a client
            // copies and masks it into its (reused) send buffer.
            c.send_binary(large.clone()).unwrap();
            write_out(c);
            // Borrowed large payloads are copied into the (reused) send
            // buffer too, as each is written out.
            c.send_binary(&large[..]).unwrap();
            write_out(c);
            c.send_text(large_text.as_str()).unwrap();
            write_out(c);
        };
        for _ in 0..10 {
            sends(&mut c);
        }
        assert_eq!(
            allocations(|| (0..N).for_each(|_| sends(&mut c))),
            0,
            "{role:?}"
        );
        // An owned String: its own allocation is the only one (it is small,
        // so it is copied and dropped, never turned into `Bytes`).
        let per_send = allocations(|| {
            for i in 0..N {
                c.send_text(format!("message {i:07}")).unwrap();
                write_out(&mut c);
            }
        });
        assert_eq!(per_send, N as u64, "{role:?}");
    }
}

#[test]
#[cfg(feature = "std")]
fn writing_out_with_rand_masks_allocates_nothing() {
    // The default mask source (rand's thread-local generator).
    let mut c = wsproto::Connection::new(Role::Client, Config::default());
    let mut one = || {
        c.send_binary(Bytes::from_static(b"abc")).unwrap();
        while let Some(wsproto::Transmit::Data(bytes)) = c.poll_transmit() {
            assert_eq!(bytes.len(), 9);
        }
    };
    for _ in 0..10 {
        one();
    }
    assert_eq!(allocations(|| (0..N).for_each(|_| one())), 0);
}

#[test]
fn memory_held_by_a_connection() {
    let (mut server, idle) = held_bytes(|| conn(Role::Server, Config::default()));
    assert_eq!(idle, 0, "an idle connection holds no heap memory");
    let frame = cf(true, 2, &vec![0u8; 64 << 10]);
    let ((), after) = held_bytes(|| {
        server.receive_data(&frame).unwrap();
        drop(server.poll_event());
        server.send_text("ack").unwrap();
        write_out(&mut server);
    });
    println!("heap held: idle {idle} B, after one 64 KiB message {after} B");
    assert!(after <= 80 << 10, "{after}");
}

/// A small message that arrived in the same read as the end of a big frame
/// must not keep the big receive buffer alive once the big one is dropped.
#[test]
fn a_kept_small_message_does_not_pin_a_large_receive_buffer() {
    let ((kept, server), held) = held_bytes(|| {
        let mut server = conn(Role::Server, Config::default());
        let mut wire = cf(true, 2, &vec![7u8; 8 << 20]);
        wire.extend_from_slice(&cf(true, 1, b"hi"));
        for piece in wire.chunks(64 << 10) {
            server.receive_data(piece).unwrap();
        }
        let events = drain_events(&mut server);
        assert_eq!(events.len(), 2);
        let kept = events.into_iter().nth(1).unwrap(); // the 8 MiB message is dropped
        assert_eq!(kept, Message::Text(Utf8Bytes::from_static("hi")));
        (kept, server)
    });
    assert!(
        held < 64 << 10,
        "a 2-byte message and an idle connection hold {held} bytes"
    );
    drop((kept, server));
}

/// The Close reason stays with the connection until it is dropped: it must
/// not be a view into a large receive buffer.
/// The same when the buffer grows in the middle of one large input: the
/// payloads split off it afterwards are judged against what it grew to.
#[test]
fn payloads_after_growth_within_one_input_do_not_pin_it() {
    let ((kept, server), held) = held_bytes(|| {
        let mut server = conn(Role::Server, Config::default());
        let mut wire = cf(true, 2, &vec![7u8; 4 << 20]);
        for _ in 0..16 {
            wire.extend_from_slice(&cf(true, 2, &vec![5u8; 300 << 10]));
        }
        // 512 KiB of the large frame, then everything else at once.
        server.receive_data(&wire[..512 << 10]).unwrap();
        server.receive_data(&wire[512 << 10..]).unwrap();
        let mut events = drain_events(&mut server);
        assert_eq!(events.len(), 17);
        let kept = events.split_off(1); // the 4 MiB message is dropped
        (kept, server)
    });
    let payloads = 16 * (300 << 10);
    assert!(
        held < payloads + payloads / 4,
        "16 messages of 300 KiB hold {held} bytes"
    );
    drop((kept, server));
}

#[test]
fn a_close_reason_does_not_pin_the_receive_buffer() {
    let (server, held) = held_bytes(|| {
        let mut server = conn(Role::Server, Config::default());
        let mut wire = cf(true, 2, &vec![7u8; 8 << 20]);
        wire.extend_from_slice(&cf(true, 8, b"\x03\xe8x"));
        server.receive_data(&wire).unwrap();
        drop(drain_events(&mut server));
        write_out(&mut server);
        assert_eq!(server.close_frame().unwrap().reason.as_str(), "x");
        server
    });
    assert!(held < 64 << 10, "a closed connection holds {held} bytes");
    drop(server);
}

/// A driver that keeps reading into the connection after it failed (to
/// wait for the peer's end of stream) must not grow its buffer.
#[test]
fn reading_after_a_failure_does_not_grow_the_buffer() {
    let mut server = conn(Role::Server, Config::default());
    server.receive_data(&sf(true, 1, b"")).unwrap_err(); // unmasked: 1002
    let (_, held) = held_bytes(|| {
        for _ in 0..100 {
            server.receive_buffer(64 << 10);
            assert!(server.receive_commit(64 << 10).is_err());
        }
    });
    assert!(held <= 64 << 10, "{held} bytes held after 100 reads");
}

/// Heap held per connection by permessage-deflate in each mode, measured
/// after a ~4 KB message each way: the compressor and decompressor states
/// with context takeover (their size set by window bits and memLevel), and
/// none between messages without it, with or without a pool (the pool's
/// own states are counted apart). Prints the figures (`--nocapture`).
#[cfg(feature = "deflate")]
#[test]
fn deflate_memory_per_connection() {
    use wsproto::deflate::{DeflateParams, DeflatePool};
    static POOL: DeflatePool = DeflatePool::new(2);
    let live = support::alloc::thread_live;
    let text = "{\"id\":1,\"name\":\"user1\",\"tags\":[\"a\",\"b\"]}".repeat(100);
    let exchange = |params: DeflateParams| {
        let start = live();
        let mut server = wsproto::Connection::new(Role::Server, Config::default());
        let mut client = wsproto::Connection::new(Role::Client, Config::default());
        server.set_deflate(params);
        client.set_deflate(params);
        let idle = live() - start;
        assert_eq!(idle, 0, "nothing is allocated before the first message");
        let mut wire = Vec::new();
        client.send_text(text.as_str()).unwrap();
        while let Some(wsproto::Transmit::Data(bytes)) = client.poll_transmit() {
            wire.extend_from_slice(&bytes);
        }
        assert_eq!(wire[0], 0xc1, "compressed");
        server.receive_data(&wire).unwrap();
        assert!(matches!(server.poll_event(), Some(Message::Text(t)) if t == text.as_str()));
        wire.clear();
        server.send_text(text.as_str()).unwrap();
        while let Some(wsproto::Transmit::Data(bytes)) = server.poll_transmit() {
            wire.extend_from_slice(&bytes);
        }
        assert_eq!(wire[0], 0xc1, "compressed");
        client.receive_data(&wire).unwrap();
        assert!(matches!(client.poll_event(), Some(Message::Text(t)) if t == text.as_str()));
        drop(wire);
        drop(client);
        server.release_buffers();
        let held = live() - start;
        drop(server);
        held
    };
    let mode = |takeover: bool, bits: u8, mem_level: u8, pool: Option<&'static DeflatePool>| {
        let mut params = DeflateParams::default();
        params.server_no_context_takeover = !takeover;
        params.client_no_context_takeover = !takeover;
        params.server_max_window_bits = bits;
        params.client_max_window_bits = bits;
        params.mem_level = mem_level;
        params.pool = pool;
        params
    };
    let plain = {
        let start = live();
        let mut server = wsproto::Connection::new(Role::Server, Config::default());
        let mut client = wsproto::Connection::new(Role::Client, Config::default());
        client.send_text(text.as_str()).unwrap();
        while let Some(wsproto::Transmit::Data(bytes)) = client.poll_transmit() {
            server.receive_data(&bytes).unwrap();
        }
        assert!(server.poll_event().is_some());
        server.send_text(text.as_str()).unwrap();
        while server.poll_transmit().is_some() {}
        drop(client);
        server.release_buffers();
        let held = live() - start;
        drop(server);
        held
    };
    // Context takeover, zlib's defaults: compressor + decompressor, 418 KiB
    // measured (zlib-rs keeps a 128 KiB hash table at any memLevel); at
    // memLevel 5, our default, 320 KiB.
    let takeover = exchange(mode(true, 15, 8, None));
    let default_level = exchange(mode(true, 15, 5, None));
    // Smaller window and memLevel: 161 KiB + 46 KiB (zlib-rs always gives
    // the decompressor a 32 KiB window).
    let small = exchange(mode(true, 12, 5, None));
    // No context takeover both ways (ServerMode::Stateless): nothing.
    let stateless = exchange(mode(false, 15, 8, None));
    // The same with a pool: warm it, then nothing per connection either;
    // the pool keeps one compressor and one decompressor.
    exchange(mode(false, 15, 8, Some(&POOL)));
    let pooled = exchange(mode(false, 15, 8, Some(&POOL)));
    eprintln!(
        "server heap after a message each way: plain {plain} B; deflate with context \
         takeover 15 bits memLevel 8 {takeover} B, memLevel 5 {default_level} B, \
         12 bits memLevel 5 {small} B; \
         without {stateless} B; without, pooled {pooled} B"
    );
    assert!(
        (380 << 10..=460 << 10).contains(&(takeover - plain)),
        "{takeover}"
    );
    assert!(
        (180 << 10..=230 << 10).contains(&(small - plain)),
        "{small}"
    );
    // Without context takeover a deflate connection holds no more than a
    // plain one (it may hold less: its received message was inflated into
    // a buffer of its own, not kept in the receive buffer).
    assert!(
        stateless <= plain && stateless < 1024,
        "{stateless}, plain {plain}"
    );
    assert!(pooled <= plain && pooled < 1024, "{pooled}, plain {plain}");
    assert_eq!((POOL.idle_compressors(), POOL.idle_decompressors()), (1, 1));
}

/// A header that declares a large frame, followed by a trickle, commits
/// memory in proportion to what arrived, not to what was declared.
#[test]
fn a_declared_large_frame_reserves_in_proportion_to_its_bytes() {
    let (server, held) = held_bytes(|| {
        let mut server = conn(Role::Server, Config::default());
        let declared = Config::default().max_frame_size - 1;
        // 127 + 64-bit length, masked, then one payload byte.
        let mut wire = vec![0x82, 0xFF];
        wire.extend_from_slice(&declared.to_be_bytes());
        wire.extend_from_slice(&[1, 2, 3, 4, 0]);
        for byte in &wire {
            server.receive_data(std::slice::from_ref(byte)).unwrap();
        }
        server
    });
    println!("declared 16 MiB, sent 15 bytes: {held} B held");
    assert!(held < 2 << 20, "{held} bytes held");
    drop(server);
}

/// After one large frame, a stream of small frames whose reads never end
/// on a frame boundary goes back to sharing payloads with the receive
/// buffer (copying each out would allocate per message).
#[test]
fn small_frames_after_a_large_one_are_shared_again() {
    let mut server = conn(Role::Server, Config::default());
    let large = cf(true, 2, &vec![9u8; 1 << 20]);
    let small: Vec<u8> = (0..12_000).flat_map(|_| cf(true, 2, &[5u8; 200])).collect();
    // The read that ends the large frame brings the first small ones too.
    let mut wire = large.clone();
    wire.extend_from_slice(&small[..500]);
    for piece in wire.chunks(64 << 10) {
        server.receive_data(piece).unwrap();
    }
    assert_eq!(drain_events(&mut server).len(), 3);
    let mut pieces = small[500..].chunks(1000);
    let mut feed = |n: usize| {
        let mut got = 0;
        for piece in pieces.by_ref().take(n) {
            server.receive_data(piece).unwrap();
            while let Some(event) = server.poll_event() {
                assert!(matches!(event, Message::Binary(ref b) if b.len() == 200));
                got += 1;
            }
        }
        got
    };
    feed(100); // warm-up
    let mut messages = 0;
    let allocs = allocations(|| messages = feed(2000));
    println!("{allocs} allocations for {messages} messages");
    assert!(messages > 9000);
    assert!(
        allocs * 20 < messages,
        "{allocs} allocations for {messages} messages"
    );
}

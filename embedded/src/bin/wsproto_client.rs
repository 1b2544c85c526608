//! Firmware that opens a WebSocket with wsproto's no_std core and
//! exchanges a message: the request, the response check, a masked text
//! frame out, a frame in. The bytes come from memory (no radio here);
//! `black_box` keeps the work from being optimised away.
#![no_std]
#![no_main]

extern crate alloc;

use core::hint::black_box;
use core::mem::MaybeUninit;
use core::time::Duration;

use cortex_m_rt::entry;
use embedded_alloc::LlffHeap as Heap;
use panic_halt as _;
use wsproto::handshake::ClientRequest;
use wsproto::{Config, Connection, Parsed, Role};

#[global_allocator]
static HEAP: Heap = Heap::empty();

#[entry]
fn main() -> ! {
    {
        const SIZE: usize = 16 * 1024;
        static mut MEMORY: [MaybeUninit<u8>; SIZE] = [MaybeUninit::uninit(); SIZE];
        // SAFETY: runs once, before any allocation.
        unsafe { HEAP.init(&raw mut MEMORY as usize, SIZE) }
    }
    let (request, mut handshake) = ClientRequest::new("device.local", "/")
        .build_with_nonce(black_box([7; 16]))
        .unwrap();
    black_box(&request);
    let response = black_box(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    if let Ok(Parsed::Complete(_)) = handshake.parse_response(response) {
        let mut state = black_box(0x2545_f491_u32);
        let masks = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()
        };
        let mut conn: Connection<Duration> =
            Connection::with_mask_source(Role::Client, Config::default(), masks);
        conn.handle_timeout(Duration::from_millis(black_box(1)));
        let _ = conn.send_text("hello");
        let mut chunks: [&[u8]; 4] = [&[]; 4];
        let n = conn.transmit_chunks(&mut chunks);
        black_box(&chunks[..n]);
        let _ = conn.receive_data(black_box(b"\x81\x05hello"));
        black_box(conn.poll_event());
    }
    loop {
        cortex_m::asm::wfi();
    }
}

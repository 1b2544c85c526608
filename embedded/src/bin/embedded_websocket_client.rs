//! The same work as `wsproto_client.rs` with embedded-websocket: the
//! request, the response check, a masked text frame out, a frame in.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use embedded_websocket::{
    WebSocketClient, WebSocketKey, WebSocketOptions, WebSocketSendMessageType,
};
use panic_halt as _;

/// The same xorshift as the wsproto image, as a `rand_core` generator.
struct Xorshift(u32);

impl rand_core::RngCore for Xorshift {
    fn next_u32(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    fn next_u64(&mut self) -> u64 {
        u64::from(self.next_u32()) << 32 | u64::from(self.next_u32())
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(4) {
            let word = self.next_u32().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

#[entry]
fn main() -> ! {
    let mut ws = WebSocketClient::new_client(Xorshift(black_box(0x2545_f491)));
    let options = WebSocketOptions {
        path: "/",
        host: "device.local",
        origin: "",
        sub_protocols: None,
        additional_headers: None,
    };
    let mut request = [0u8; 512];
    if let Ok((len, key)) = ws.client_connect(&options, &mut request) {
        black_box(&request[..len]);
        let key: WebSocketKey = black_box(key);
        let response = black_box(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        );
        if ws.client_accept(&key, response).is_ok() {
            let mut frame = [0u8; 64];
            if let Ok(n) = ws.write(WebSocketSendMessageType::Text, true, b"hello", &mut frame) {
                black_box(&frame[..n]);
            }
            let mut payload = [0u8; 64];
            let _ = black_box(ws.read(black_box(b"\x81\x05hello"), &mut payload));
        }
    }
    loop {
        cortex_m::asm::wfi();
    }
}

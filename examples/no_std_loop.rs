//! The embedded shape: a client driven over an abstract byte pipe by a
//! loop with a millisecond tick counter and a fixed-size random generator,
//! the way firmware on a microcontroller would drive it. Everything in
//! `device` uses only `core`, `alloc` and wsproto's `no_std` API (the
//! `Duration` clock, `Connection::with_mask_source`,
//! `ClientRequest::build_with_nonce`, `transmit_chunks`), so it runs the
//! same on a Cortex-M; the host part only plays the network and a server.
//!
//! ```sh
//! cargo run --no-default-features --example no_std_loop
//! ```
//!
//! It connects, sends a text message and reads the echo, lets the
//! keepalive fire on the tick counter (the server answers the Ping), and
//! closes.

use core::time::Duration;

/// A byte pipe as a driver sees a UART, an SPI modem or a TCP stack: it
/// takes what fits and gives what has arrived, never blocking.
trait Pipe {
    /// Writes what fits of `bytes`; how many were taken.
    fn write(&mut self, bytes: &[u8]) -> usize;
    /// Reads what has arrived into `buf`; 0 when nothing has.
    fn read(&mut self, buf: &mut [u8]) -> usize;
}

/// A xorshift generator in 4 bytes of state. **Not** for a real device:
/// RFC 6455 §5.3 wants unpredictable masking keys, so seed a CSPRNG from
/// the hardware's entropy (the RNG peripheral) there.
struct Xorshift(u32);

impl Xorshift {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

/// The firmware side: `core` + `alloc` only.
mod device {
    extern crate alloc;

    use alloc::boxed::Box;
    use alloc::vec::Vec;
    use core::time::Duration;

    use wsproto::handshake::{ClientHandshake, ClientRequest};
    use wsproto::{Config, Connection, Message, Parsed, Role, State};

    use super::{Pipe, Xorshift};

    /// What the main loop tells the application.
    pub enum Step {
        /// Nothing happened.
        Idle,
        /// The opening handshake completed.
        Connected,
        /// A message or control frame arrived.
        Received(Message),
        /// The connection is over.
        Closed,
    }

    enum Phase {
        // Boxed: a connection is about 1 KB, the handshake a fifth of it
        // (more with permessage-deflate's preferences in an all-features
        // build); neither is worth carrying in the other's phase.
        Handshake(Box<ClientHandshake>, Vec<u8>),
        Open(Box<Connection<Duration>>),
        Done,
    }

    /// A WebSocket client on a pipe, polled from the main loop.
    pub struct Client {
        phase: Phase,
        config: Config,
        rng: Xorshift,
    }

    impl Client {
        /// Writes the upgrade request into `pipe`.
        pub fn start(pipe: &mut impl Pipe, config: Config, seed: u32) -> Client {
            let mut rng = Xorshift(seed);
            let mut nonce = [0u8; 16];
            for chunk in nonce.chunks_mut(4) {
                chunk.copy_from_slice(&rng.next().to_le_bytes());
            }
            let (request, handshake) = ClientRequest::new("device.local", "/telemetry")
                .build_with_nonce(nonce)
                .expect("a valid request");
            write_all(pipe, &request);
            Client {
                phase: Phase::Handshake(Box::new(handshake), Vec::new()),
                config,
                rng,
            }
        }

        /// The connection, once open.
        pub fn connection(&mut self) -> Option<&mut Connection<Duration>> {
            match &mut self.phase {
                Phase::Open(conn) => Some(conn),
                _ => None,
            }
        }

        /// One turn of the main loop at `now` (the tick counter): read what
        /// arrived, tell the connection the time, write what it queued.
        pub fn poll(&mut self, pipe: &mut impl Pipe, now: Duration) -> Step {
            let mut buf = [0u8; 256];
            let n = pipe.read(&mut buf);
            let step = match &mut self.phase {
                Phase::Handshake(handshake, head) => {
                    head.extend_from_slice(&buf[..n]);
                    match handshake.parse_response(head) {
                        Ok(Parsed::Partial) => return Step::Idle,
                        Ok(Parsed::Complete((_, used))) => {
                            let mut seed = self.rng.next();
                            let masks = move || {
                                let mut r = Xorshift(seed);
                                seed = r.next();
                                seed.to_le_bytes()
                            };
                            let mut conn = Connection::with_mask_source(
                                Role::Client,
                                self.config.clone(),
                                masks,
                            );
                            conn.handle_timeout(now);
                            let _ = conn.receive_data(&head[used..]);
                            self.phase = Phase::Open(Box::new(conn));
                            Step::Connected
                        }
                        Err(_) => {
                            self.phase = Phase::Done;
                            return Step::Closed;
                        }
                    }
                }
                Phase::Open(conn) => {
                    let _ = conn.receive_data(&buf[..n]);
                    conn.handle_timeout(now);
                    match conn.poll_event() {
                        Some(event) => Step::Received(event),
                        None if conn.state() == State::Closed => Step::Closed,
                        None => Step::Idle,
                    }
                }
                Phase::Done => return Step::Closed,
            };
            if let Phase::Open(conn) = &mut self.phase {
                flush(pipe, conn);
                if conn.is_finished() {
                    self.phase = Phase::Done;
                }
            }
            step
        }
    }

    /// Writes what the connection queued, as far as the pipe takes it.
    pub fn flush(pipe: &mut impl Pipe, conn: &mut Connection<Duration>) {
        loop {
            let mut chunks: [&[u8]; 4] = [&[]; 4];
            let n = conn.transmit_chunks(&mut chunks);
            if n == 0 {
                // The shutdown, once the connection is over: nothing to
                // do for a pipe without a half-close.
                let _ = conn.poll_transmit();
                return;
            }
            let (written, all) = (pipe.write(chunks[0]), chunks[0].len());
            conn.advance_transmit(written);
            if written < all {
                return;
            }
        }
    }

    fn write_all(pipe: &mut impl Pipe, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = pipe.write(bytes);
            bytes = &bytes[n..];
        }
    }
}

/// The host side: two fixed-size queues as the wire, and a server.
mod host {
    use std::collections::VecDeque;

    use super::Pipe;

    /// One direction of the wire, 512 bytes deep.
    #[derive(Default)]
    pub struct Wire(pub VecDeque<u8>);

    const DEPTH: usize = 512;

    /// The device's end: writes into one wire, reads from the other.
    pub struct End<'a> {
        pub out: &'a mut Wire,
        pub inn: &'a mut Wire,
    }

    impl Pipe for End<'_> {
        fn write(&mut self, bytes: &[u8]) -> usize {
            let n = bytes.len().min(DEPTH - self.out.0.len());
            self.out.0.extend(&bytes[..n]);
            n
        }
        fn read(&mut self, buf: &mut [u8]) -> usize {
            let n = buf.len().min(self.inn.0.len());
            for (slot, byte) in buf.iter_mut().zip(self.inn.0.drain(..n)) {
                *slot = byte;
            }
            n
        }
    }
}

fn main() {
    use wsproto::handshake::{AcceptOptions, RequestParser};
    use wsproto::{Config, Connection, Message, Parsed, Role};

    let mut to_server = host::Wire::default();
    let mut to_device = host::Wire::default();
    let config = Config::default().ping_interval(Some(Duration::from_secs(5)));
    let mut device = device::Client::start(
        &mut host::End {
            out: &mut to_server,
            inn: &mut to_device,
        },
        config,
        0x2545_f491,
    );

    // The server: parse the request, answer 101, echo data.
    let mut server: Option<Connection<Duration>> = None;
    let mut request = Vec::new();
    let mut sent_hello = false;
    let mut pongs = 0;
    for tick in 0..20_000u64 {
        // The tick counter: one loop turn per millisecond.
        let now = Duration::from_millis(tick);
        let mut pipe = host::End {
            out: &mut to_server,
            inn: &mut to_device,
        };
        match device.poll(&mut pipe, now) {
            device::Step::Idle => {}
            device::Step::Connected => println!("[{tick:>5} ms] device: connected"),
            device::Step::Received(Message::Text(text)) => {
                println!("[{tick:>5} ms] device: echo {:?}", &*text);
            }
            device::Step::Received(Message::Pong(_)) => {
                pongs += 1;
                println!("[{tick:>5} ms] device: Pong for the keepalive Ping");
                if pongs == 2 {
                    let conn = device.connection().expect("open");
                    conn.close(1000, "done").expect("open");
                    device::flush(&mut pipe, conn);
                }
            }
            device::Step::Received(event) => println!("[{tick:>5} ms] device: {event:?}"),
            device::Step::Closed => {
                println!("[{tick:>5} ms] device: closed");
                break;
            }
        }
        if !sent_hello {
            if let Some(conn) = device.connection() {
                conn.send_text("hello from the device").expect("open");
                device::flush(&mut pipe, conn);
                sent_hello = true;
            }
        }

        // The server's turn.
        let mut input: Vec<u8> = to_server.0.drain(..).collect();
        let server_conn = match &mut server {
            Some(conn) => conn,
            None => {
                request.extend_from_slice(&input);
                let Ok(Parsed::Complete((upgrade, used))) =
                    RequestParser::default().parse(&request)
                else {
                    continue;
                };
                let accepted = upgrade.accept(AcceptOptions::new()).expect("valid");
                to_device.0.extend(accepted.response());
                // A server never masks: its key source is never asked.
                let mut conn =
                    Connection::with_mask_source(Role::Server, Config::default(), || [0; 4]);
                conn.handle_timeout(now);
                input = request[used..].to_vec();
                server.insert(conn)
            }
        };
        if server_conn.is_finished() {
            continue;
        }
        let _ = server_conn.receive_data(&input);
        server_conn.handle_timeout(now);
        while let Some(event) = server_conn.poll_event() {
            if let Message::Text(text) = event {
                server_conn.send_text(text).expect("open");
            }
        }
        while let Some(wsproto::Transmit::Data(bytes)) = server_conn.poll_transmit() {
            to_device.0.extend(&bytes[..]);
        }
    }
}

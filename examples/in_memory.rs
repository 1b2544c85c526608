//! A client and a server in one process, no sockets: the opening handshake
//! and a masked text frame, driven by hand through the sans-IO core.
//!
//! Run with `cargo run --example in_memory`.

use wsproto::Status;
use wsproto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, apply_mask};
use wsproto::handshake::{Accept, ClientRequest, RequestParser};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Client: the upgrade request for a URL, with a fresh random key.
    let (request, mut client) = ClientRequest::from_url("ws://localhost:9001/chat")?
        .protocol("chat")
        .build()?;
    print!("client -> server\n{}", String::from_utf8_lossy(&request));

    // Server: parse as bytes arrive (here one byte at a time), then accept.
    let mut parser = RequestParser::default();
    let mut upgrade = None;
    for end in 1..=request.len() {
        if let Status::Complete((found, _used)) = parser.parse(&request[..end])? {
            upgrade = Some(found);
            break;
        }
    }
    let upgrade = upgrade.ok_or("request head never completed")?;
    println!(
        "server sees path {:?}, offered {:?}",
        upgrade.path(),
        upgrade.protocols()
    );
    let accepted = upgrade.accept(Accept::new().protocol("chat"))?;
    print!(
        "server -> client\n{}",
        String::from_utf8_lossy(accepted.response())
    );

    // Client: check the 101 response, including Sec-WebSocket-Accept.
    let Status::Complete((established, _)) = client.parse_response(accepted.response())? else {
        return Err("response head incomplete".into());
    };
    println!("client agreed on subprotocol {:?}", established.protocol());

    // A client frame is masked (RFC 6455 §5.3); the server unmasks in place.
    let key = rand::random::<[u8; 4]>();
    let mut header = FrameHeader::new(OpCode::Text, 5);
    header.mask = Some(key);
    let mut wire = [0; MAX_HEADER_LEN];
    let used = header.encode(&mut wire);
    let mut frame = wire[..used].to_vec();
    let mut payload = *b"Hello";
    apply_mask(&mut payload, key);
    frame.extend_from_slice(&payload);
    println!("client -> server frame {frame:02x?}");

    let Status::Complete((received, used)) = FrameHeader::decode(&frame)? else {
        return Err("frame incomplete".into());
    };
    let body = &mut frame[used..];
    apply_mask(body, received.mask.ok_or("client frames are masked")?);
    println!(
        "server decoded {:?} {:?}",
        received.opcode,
        std::str::from_utf8(body)?
    );
    Ok(())
}

//! One spare receive buffer per thread. A connection that waits for input
//! gives up its receive buffer (an idle connection holds none, see
//! [`Connection::release_buffers`]); instead of freeing it, the reader
//! leaves it here, and the next connection on this thread that reads with
//! no buffer takes it. A server trading messages larger than the 2 KiB a
//! connection keeps then reuses one allocation instead of allocating and
//! freeing one per message (a sixth of the user-space instructions of a
//! 16 KiB echo on tokio, counted with callgrind), and what idle
//! connections hold does not change: one buffer per thread at most, of at
//! most [`SPARE_MAX`].

use std::cell::Cell;

use bytes::BytesMut;

use crate::Connection;

/// The largest buffer kept, the largest read's worth: a connection that
/// received a large message frees its buffer as before.
const SPARE_MAX: usize = super::recv::MAX_READ;

thread_local! {
    static SPARE: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// Before waiting for input: the connection's empty receive buffer, if it
/// would be freed, becomes this thread's spare (the previous spare is
/// freed). Returns whether it gave one.
#[inline]
pub(crate) fn keep(conn: &mut Connection) -> bool {
    match conn.take_idle_rx() {
        Some((buf, allocated)) => {
            if allocated <= SPARE_MAX {
                // `try_with`: a thread being torn down just frees it.
                let _ = SPARE.try_with(|spare| spare.set(Some(buf)));
            }
            true
        }
        None => false,
    }
}

/// Before a read of a connection that gave its buffer to [`keep`]: it
/// takes this thread's spare, if there is one (if not, it allocates as
/// it reads).
pub(crate) fn lend(conn: &mut Connection) {
    let Ok(Some(buf)) = SPARE.try_with(Cell::take) else {
        return;
    };
    if let Err(buf) = conn.adopt_rx(buf) {
        let _ = SPARE.try_with(|spare| spare.set(Some(buf)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
    use crate::{Config, Message, Role};
    use bytes::BufMut;

    /// A masked binary frame of `len` bytes (key 0: the payload as sent).
    fn frame(len: usize) -> Vec<u8> {
        let header = FrameHeader {
            mask: Some([0; 4]),
            ..FrameHeader::new(OpCode::Binary, len as u64)
        };
        let mut out = [0; MAX_HEADER_LEN];
        let used = header.encode(&mut out);
        let mut frame = out[..used].to_vec();
        frame.extend(std::iter::repeat_n(7u8, len));
        frame
    }

    #[test]
    fn a_large_buffer_goes_from_an_idle_connection_to_the_next_reader() {
        let mut a = Connection::new(Role::Server, Config::default());
        let mut b = Connection::new(Role::Server, Config::default());
        // Read as a driver reads: into room lent by the connection.
        let input = frame(16 << 10);
        a.receive_buf_mut(32 << 10).put_slice(&input);
        a.receive_commit(input.len()).unwrap();
        assert!(matches!(a.poll_event(), Some(Message::Binary(m)) if m.len() == 16 << 10));
        assert!(keep(&mut a));
        // The idle connection holds no buffer; the spare does.
        assert!(a.rx_unallocated());
        lend(&mut b);
        assert!(!b.rx_unallocated());
        // Taken once: the next connection without one allocates its own.
        let mut c = Connection::new(Role::Server, Config::default());
        lend(&mut c);
        assert!(c.rx_unallocated());
        // The adopted buffer works as any other.
        b.receive_data(&frame(100)).unwrap();
        assert!(matches!(b.poll_event(), Some(Message::Binary(m)) if m.len() == 100));
    }

    #[test]
    fn a_small_or_busy_buffer_stays_with_its_connection() {
        let mut a = Connection::new(Role::Server, Config::default());
        a.receive_data(&frame(20)).unwrap();
        let _ = a.poll_event();
        // 2 KiB or less stays (see IDLE_KEEP): nothing to keep.
        assert!(!keep(&mut a));
        // Half a frame buffered: the buffer is in use.
        let mut b = Connection::new(Role::Server, Config::default());
        let whole = frame(8 << 10);
        b.receive_buf_mut(8 << 10).put_slice(&whole[..4 << 10]);
        b.receive_commit(4 << 10).unwrap();
        assert!(!keep(&mut b));
        b.receive_data(&whole[4 << 10..]).unwrap();
        assert!(matches!(b.poll_event(), Some(Message::Binary(m)) if m.len() == 8 << 10));
    }

    #[test]
    fn a_buffer_larger_than_a_read_is_freed() {
        let mut a = Connection::new(Role::Server, Config::default());
        let input = frame(100);
        a.receive_buf_mut(SPARE_MAX + 1024).put_slice(&input);
        a.receive_commit(input.len()).unwrap();
        let _ = a.poll_event();
        // Given up by the connection, but not kept.
        assert!(keep(&mut a));
        assert!(a.rx_unallocated());
        let mut b = Connection::new(Role::Server, Config::default());
        lend(&mut b);
        assert!(b.rx_unallocated());
    }
}

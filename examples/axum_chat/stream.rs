//! The room's log in a Redis stream (see `redis.rs`): storing a post
//! with its cid in one script, reading a replay with the gap check, and
//! the live reader of each room with local members.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use wsproto::PreparedMessage;

use super::{Hub, Out};
use crate::chat_log::{Incoming, StreamId, post_frame};

/// Compares two stream ids in Lua: -1, 0 or 1.
const CMP: &str = r"
local function cmp(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  if am ~= bm then return am < bm and -1 or 1 end
  if as ~= bs then return as < bs and -1 or 1 end
  return 0
end
";

/// Stores a post: KEYS = stream, cid key (or the stream again), trimmed
/// key; ARGV = max length, retention in ms, from, text, 1 if a cid.
/// Returns {1, id} (stored) or {0, id} (the cid's post, stored before).
/// Trims to the length and the age, and keeps the greatest id trimmed
/// away in the trimmed key (Redis 7.0's `max-deleted-entry-id` counts
/// `XDEL` only).
const STORE: &str = r"
if ARGV[5] == '1' then
  local old = redis.call('GET', KEYS[2])
  if old then return {0, old} end
end
local id = redis.call('XADD', KEYS[1], '*', 'from', ARGV[3], 'text', ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local keep = string.format('%d-0', now - tonumber(ARGV[2]))
local over = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if over > 0 then
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', over + 1)
  if cmp(first[over + 1][1], keep) > 0 then keep = first[over + 1][1] end
end
local dead = redis.call('XREVRANGE', KEYS[1], '(' .. keep, '-', 'COUNT', 1)
if #dead > 0 then
  redis.call('SET', KEYS[3], dead[1][1])
  redis.call('XTRIM', KEYS[1], 'MINID', keep)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
if ARGV[5] == '1' then redis.call('SET', KEYS[2], id, 'PX', ARGV[2]) end
return {1, id}
";

/// A page of the replay: KEYS = stream, trimmed key; ARGV = after this
/// id, count, 1 for the first page (with the gap check: something after
/// the id was trimmed away, or the id is after the stream's last, or the
/// stream is gone). Returns {gap, entries}.
const REPLAY: &str = r"
local gap = 0
if ARGV[3] == '1' then
  if redis.call('EXISTS', KEYS[1]) == 0 then
    if ARGV[1] ~= '0-0' then gap = 1 end
  else
    local info = redis.call('XINFO', 'STREAM', KEYS[1])
    local last = '0-0'
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then last = info[i + 1] end
    end
    local trimmed = redis.call('GET', KEYS[2]) or '0-0'
    if cmp(trimmed, ARGV[1]) > 0 or cmp(ARGV[1], last) > 0 then gap = 1 end
  end
end
return {gap, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])}
";

/// Posts read or replayed at once at most.
pub(super) const PAGE: usize = 500;

/// Stream entries as `XRANGE` and `XREAD` return them.
pub(super) type Entries = Vec<(String, Vec<String>)>;

/// An entry's id, sender and text (`None` for one this example did not
/// write).
pub(super) fn entry((id, fields): &(String, Vec<String>)) -> Option<(StreamId, &str, &str)> {
    let id = StreamId::parse(id)?;
    let (mut from, mut text) = (None, None);
    for pair in fields.chunks_exact(2) {
        match pair[0].as_str() {
            "from" => from = Some(pair[1].as_str()),
            "text" => text = Some(pair[1].as_str()),
            _ => {}
        }
    }
    Some((id, from?, text?))
}

impl Hub {
    pub(super) fn stream_key(&self, room: &str) -> String {
        format!("{}:log:{room}", self.0.options.prefix)
    }

    pub(super) fn trimmed_key(&self, room: &str) -> String {
        format!("{}:trimmed:{room}", self.0.options.prefix)
    }

    /// The connection for posts and replays.
    pub(super) async fn conn(&self) -> redis::RedisResult<MultiplexedConnection> {
        let mut conn = self.0.conn.lock().await;
        if let Some(conn) = conn.as_ref() {
            return Ok(conn.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let made = self
            .0
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *conn = Some(made.clone());
        Ok(made)
    }

    /// Forgets the connection after an error: the next use makes another.
    pub(super) async fn broken(&self) {
        *self.0.conn.lock().await = None;
    }

    /// Stores a post (once per (name, cid) within the retention): its id,
    /// and whether it is new.
    pub(super) async fn store(
        &self,
        room: &str,
        name: &str,
        incoming: &Incoming,
    ) -> redis::RedisResult<(StreamId, bool)> {
        let retention = self.0.options.retention;
        let stream = self.stream_key(room);
        let cid_key = match &incoming.cid {
            Some(cid) => format!("{}:cid:{room}:{name}:{cid}", self.0.options.prefix),
            None => stream.clone(),
        };
        let mut conn = self.conn().await?;
        let result: redis::RedisResult<(u8, String)> = redis::cmd("EVAL")
            .arg(format!("{CMP}{STORE}"))
            .arg(3)
            .arg(&stream)
            .arg(&cid_key)
            .arg(self.trimmed_key(room))
            .arg(retention.max_len)
            .arg(retention.retention.as_millis().max(1) as u64)
            .arg(name)
            .arg(&incoming.text)
            .arg(u8::from(incoming.cid.is_some()))
            .query_async(&mut conn)
            .await;
        let (fresh, id) = match result {
            Ok(reply) => reply,
            Err(e) => {
                self.broken().await;
                return Err(e);
            }
        };
        let id = StreamId::parse(&id).ok_or_else(|| {
            redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, "not a stream id"))
        })?;
        Ok((id, fresh == 1))
    }

    /// A page of the posts after `after` (with the gap check when
    /// `first`): whether there is a gap, and the posts.
    pub(super) async fn replay_page(
        &self,
        room: &str,
        after: StreamId,
        first: bool,
    ) -> redis::RedisResult<(bool, Entries)> {
        let mut conn = self.conn().await?;
        let result: redis::RedisResult<(u8, Entries)> = redis::cmd("EVAL")
            .arg(format!("{CMP}{REPLAY}"))
            .arg(2)
            .arg(self.stream_key(room))
            .arg(self.trimmed_key(room))
            .arg(after.to_string())
            .arg(PAGE)
            .arg(u8::from(first))
            .query_async(&mut conn)
            .await;
        match result {
            Ok((gap, entries)) => Ok((gap == 1, entries)),
            Err(e) => {
                self.broken().await;
                Err(e)
            }
        }
    }

    /// The last id of `room`'s stream (`0-0` for none), where a new live
    /// reader starts; `None` if Redis cannot tell.
    pub(super) async fn last_id(&self, room: &str) -> Option<StreamId> {
        let mut conn = self.conn().await.ok()?;
        let exists: bool = conn.exists(self.stream_key(room)).await.ok()?;
        if !exists {
            return Some(StreamId::default());
        }
        let info: redis::Value = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(self.stream_key(room))
            .query_async(&mut conn)
            .await
            .ok()?;
        let fields: Vec<redis::Value> = match info {
            redis::Value::Array(fields) => fields,
            redis::Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            _ => return None,
        };
        for pair in fields.chunks_exact(2) {
            let key: String = redis::from_redis_value_ref(&pair[0]).ok()?;
            if key == "last-generated-id" {
                let id: String = redis::from_redis_value_ref(&pair[1]).ok()?;
                return StreamId::parse(&id);
            }
        }
        None
    }
}

/// The room's live reader: reads the room's stream from `start` (looked
/// up now if `None`) with `XREAD BLOCK` on a connection of its own and
/// hands every post, framed once, to the room's local members, until the
/// room has no local member (or another reader). After an error it
/// connects again (0.1 s doubling to 5 s) and goes on from its last id.
pub(super) async fn live_reader(hub: Hub, room: String, epoch: u64, start: Option<StreamId>) {
    let alive = || hub.0.readers.lock().unwrap().get(&room).map(|r| r.0) == Some(epoch);
    let key = hub.stream_key(&room);
    let mut last = start;
    let mut backoff = Duration::from_millis(100);
    while alive() {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let mut conn = match hub
            .0
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(conn) => conn,
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        while alive() {
            let Some(after) = last else {
                last = hub.last_id(&room).await;
                if last.is_none() {
                    break;
                }
                continue;
            };
            let read: redis::RedisResult<Option<Vec<(String, Entries)>>> = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(PAGE)
                .arg("BLOCK")
                .arg(1000)
                .arg("STREAMS")
                .arg(&key)
                .arg(after.to_string())
                .query_async(&mut conn)
                .await;
            let Ok(read) = read else { break };
            let mut rooms = hub.0.rooms.lock().unwrap();
            for (_, entries) in read.unwrap_or_default() {
                for e in &entries {
                    let Some((id, from, text)) = entry(e) else {
                        continue;
                    };
                    last = Some(id);
                    if let Some(reader) = hub.0.readers.lock().unwrap().get_mut(&room) {
                        if reader.0 == epoch {
                            reader.1 = last;
                        }
                    }
                    if let Some(members) = rooms.get_mut(&room) {
                        let post = Out::Live(id, PreparedMessage::text(post_frame(id, from, text)));
                        members.retain(|_, m| m.queue.try_send(post.clone()).is_ok());
                    }
                }
            }
        }
        if alive() {
            tokio::time::sleep(backoff).await;
        }
    }
}

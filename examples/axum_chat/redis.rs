//! `--redis redis://[:PASSWORD@]HOST:PORT[/DB]`: the chat on several
//! instances, which share their rooms through Redis.
//!
//! Posts: each room `R` has its history in the stream `PREFIX:log:R`. A
//! post is stored by one Lua script (atomic: a crash cannot store it
//! without its cid, or the cid without it): `XADD` with `MAXLEN
//! --history` (exact), `XTRIM MINID` now minus `--retention`, and, for a
//! post with a cid, `SET PREFIX:cid:R:NAME:CID ID PX retention` unless
//! that key exists (then the post is not stored again and its first id
//! is acknowledged). Live delivery comes from the same stream: one task
//! per room with local members reads it with `XREAD BLOCK` from the last
//! id it delivered (its own Redis connection) and hands each post, framed
//! once, to every local member. Every member of a room, on any instance,
//! gets the posts in stream order; the sender too.
//!
//! Resume: `?since=ID` registers the member with its room's reader first,
//! then replays the posts after ID (`XRANGE (ID +`, pages of 500; the
//! first page in one script with the gap check: `{"gap":true}` when a
//! post after ID was trimmed, or ID is after the stream's last id, or the
//! stream is gone), then the live posts whose ids are after
//! the last replayed one: no hole and no duplicate at the seam.
//!
//! Notices (joins, leaves, the online count) are not history: they go
//! through pub/sub, channel `PREFIX:room:R`, as `INSTANCE \n FRAME`; an
//! instance delivers its own at once and skips them when they come back.
//! One relay task per instance owns the pub/sub connections.
//!
//! Presence: `PREFIX:members:R` is a hash of `INSTANCE:ID` -> name, and
//! `PREFIX:instance:INSTANCE` a key that expires after the presence TTL
//! unless refreshed, which the relay does every third of it. Every third
//! of the TTL each instance also sweeps its rooms: the members of an
//! instance whose key has expired are deleted, and the instance whose
//! `HDEL` removed one (one instance only) announces `NAME left`. After
//! each join or leave the instance that saw it posts `N online`.
//!
//! Faults: when Redis goes away the instance prints `redis down: ERROR`
//! once, retries with backoff (0.1 s doubling to 5 s) and, back, prints
//! `redis up (N rooms)` after subscribing again and registering its
//! members again. A post that cannot be stored is answered with a notice
//! `not stored: ...` and no ack (the client sends it again); a member
//! whose replay cannot be read is closed with 1011 (it comes back later).
//!
//! Stopping (`SIGTERM`, Ctrl-C): once the sockets are closed with 1001,
//! every local member has left as usual (its `NAME left` published and
//! its presence deleted by this instance, so no other announces it again
//! when the presence would have expired); [`Hub::stop`] waits for that to
//! reach Redis, then deletes this instance's key.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::{MultiplexedConnection, PubSubSink};
use tokio::sync::{Notify, mpsc, oneshot};
use wsproto::axum::{Message, WebSocket, WebSocketUpgrade};
use wsproto::handshake::OriginPolicy;
use wsproto::tokio::ConnectionSet;
use wsproto::{Delivery, PreparedMessage};

use super::chat_log::{
    GAP_FRAME, Incoming, Retention, StreamId, ack_frame, notice_frame, post_frame, welcome_frame,
};
use super::{QUEUE, valid_name};

#[path = "stream.rs"]
mod stream;
use stream::{PAGE, entry, live_reader};

/// Commands queued for the relay before notices are dropped (Redis too slow).
const RELAY_QUEUE: usize = 65_536;
/// Publishes sent in one pipeline at most.
const BATCH: usize = 256;

/// What `--redis`, `--redis-prefix`, `--presence-ttl` and `--max-message`
/// asked for.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    url: String,
    prefix: String,
    ttl: Duration,
    max_message: u64,
    /// `--history`, `--retention`.
    retention: Retention,
    /// `--no-notices`: no join, leave or online-count lines (a room of
    /// thousands, or the bench); presence is still kept.
    quiet: bool,
}

impl Options {
    /// Takes the Redis options out of `args` (leaving the others), or
    /// `None` without `--redis`.
    pub(crate) fn take(
        args: &mut Vec<String>,
        retention: Retention,
    ) -> Result<Option<Options>, String> {
        let quiet = match args.iter().position(|a| a == "--no-notices") {
            Some(i) => {
                args.remove(i);
                true
            }
            None => false,
        };
        let mut take = |flag: &str| super::chat_log::take_flag(args, flag);
        let url = take("--redis")?;
        let prefix = take("--redis-prefix")?.unwrap_or_else(|| "wsproto-chat".to_owned());
        let ttl = take("--presence-ttl")?
            .map(|s| s.parse::<f64>().map_err(|e| format!("--presence-ttl: {e}")))
            .transpose()?
            .unwrap_or(10.0);
        let max_message = take("--max-message")?
            .map(|s| s.parse::<u64>().map_err(|e| format!("--max-message: {e}")))
            .transpose()?
            .unwrap_or(16 << 10);
        Ok(url.map(|url| Options {
            url,
            prefix,
            ttl: Duration::from_secs_f64(ttl.max(0.3)),
            max_message,
            retention,
            quiet,
        }))
    }
}

/// One local member: its name and the queue of its writer task.
struct Member {
    name: String,
    queue: mpsc::Sender<Out>,
}

/// What a member's writer task sends.
#[derive(Clone)]
enum Out {
    /// A post from the room's log: skipped if the replay already sent it.
    Live(StreamId, PreparedMessage),
    /// A notice or an ack.
    Other(PreparedMessage),
}

/// What the relay task is asked to do, in this order.
enum Command {
    Subscribe(String),
    Unsubscribe(String),
    Publish {
        room: String,
        text: String,
    },
    Join {
        room: String,
        id: u64,
        name: String,
    },
    Leave {
        room: String,
        id: u64,
    },
    /// Deletes this instance's key, then answers: everything queued
    /// before has been carried out.
    Stop(oneshot::Sender<()>),
}

/// The rooms of this instance and the way to the relay task.
#[derive(Clone)]
pub(crate) struct Hub(Arc<Inner>);

struct Inner {
    options: Options,
    /// Random, new at every start: tells this instance's posts apart.
    instance: String,
    /// `PREFIX:room:`, before every room's channel name.
    channel_prefix: String,
    /// Room -> its local members, id -> member.
    rooms: Mutex<HashMap<String, HashMap<u64, Member>>>,
    next_id: AtomicU64,
    relay: mpsc::Sender<Command>,
    dropped: AtomicU64,
    /// The sockets of this server, closed together on shutdown.
    set: ConnectionSet,
    /// Told when the last local member has left.
    emptied: Notify,
    client: redis::Client,
    /// The connection for posts and replays (made again after an error).
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Room -> the epoch of its live reader task (a reader whose room is
    /// gone, or has a newer reader, stops).
    /// (and the id of the last post it delivered, where a member joining
    /// now starts).
    readers: Mutex<HashMap<String, (u64, Option<StreamId>)>>,
    next_epoch: AtomicU64,
}

impl Hub {
    /// Checks the URL and starts the relay task (which connects by itself,
    /// and keeps trying).
    pub(crate) fn start(options: Options, set: ConnectionSet) -> Result<Hub, redis::RedisError> {
        let client = redis::Client::open(options.url.as_str())?;
        let (relay, commands) = mpsc::channel(RELAY_QUEUE);
        let instance = format!("{:016x}", rand_u64());
        let hub = Hub(Arc::new(Inner {
            channel_prefix: format!("{}:room:", options.prefix),
            options,
            instance,
            rooms: Mutex::default(),
            next_id: AtomicU64::new(0),
            relay,
            dropped: AtomicU64::new(0),
            set,
            emptied: Notify::new(),
            client: client.clone(),
            conn: tokio::sync::Mutex::new(None),
            readers: Mutex::default(),
            next_epoch: AtomicU64::new(0),
        }));
        tokio::spawn(relay_task(hub.clone(), client, commands));
        Ok(hub)
    }

    fn channel(&self, room: &str) -> String {
        format!("{}{room}", self.0.channel_prefix)
    }

    fn members_key(&self, room: &str) -> String {
        format!("{}:members:{room}", self.0.options.prefix)
    }

    fn instance_key(&self, instance: &str) -> String {
        format!("{}:instance:{instance}", self.0.options.prefix)
    }

    fn command(&self, command: Command) {
        if self.0.relay.try_send(command).is_err()
            && self.0.dropped.fetch_add(1, Ordering::Relaxed) == 0
        {
            eprintln!("redis: relay queue full, dropping what does not fit");
        }
    }

    /// Sends the frame `text` (a notice) to the local members of `room`
    /// but `from`; a member whose queue is full (not reading) is dropped.
    /// The message is framed once (a `PreparedMessage`): every local
    /// member writes the same bytes.
    fn deliver(
        rooms: &mut HashMap<String, HashMap<u64, Member>>,
        room: &str,
        from: u64,
        text: &str,
    ) {
        let Some(members) = rooms.get_mut(room) else {
            return;
        };
        let message = Out::Other(PreparedMessage::text(text));
        members.retain(|id, m| *id == from || m.queue.try_send(message.clone()).is_ok());
    }

    /// Joins `member` to `room`: with a live reader for the room already,
    /// or a new one started at `start` (the stream's last id, looked up
    /// before). `Err(member)` when a reader is needed and `start` is not
    /// given: look it up, then try again. `Ok` with the id after which
    /// the member's live posts come (if known).
    fn join(
        &self,
        room: &str,
        id: u64,
        member: Member,
        start: Option<Option<StreamId>>,
    ) -> Result<Option<StreamId>, Member> {
        let mut rooms = self.0.rooms.lock().unwrap();
        let position = {
            let mut readers = self.0.readers.lock().unwrap();
            match readers.get(room) {
                Some(&(_, position)) => position,
                None => {
                    let Some(start) = start else {
                        return Err(member);
                    };
                    let epoch = self.0.next_epoch.fetch_add(1, Ordering::Relaxed);
                    readers.insert(room.to_owned(), (epoch, start));
                    tokio::spawn(live_reader(self.clone(), room.to_owned(), epoch, start));
                    start
                }
            }
        };
        let local = rooms.entry(room.to_owned()).or_default();
        if local.is_empty() {
            // Subscribed before the join is published: whoever sees the
            // join can reach this instance.
            self.command(Command::Subscribe(room.to_owned()));
        }
        let notice = notice_frame(&format!("{} joined", member.name));
        let name = member.name.clone();
        local.insert(id, member);
        if !self.0.options.quiet {
            Hub::deliver(&mut rooms, room, id, &notice);
            self.command(Command::Publish {
                room: room.to_owned(),
                text: notice,
            });
        }
        self.command(Command::Join {
            room: room.to_owned(),
            id,
            name,
        });
        Ok(position)
    }

    fn leave(&self, room: &str, id: u64, name: &str) {
        let mut rooms = self.0.rooms.lock().unwrap();
        // A member dropped for being slow is already gone from the room.
        if let Some(local) = rooms.get_mut(room) {
            local.remove(&id);
            if local.is_empty() {
                rooms.remove(room);
                self.0.readers.lock().unwrap().remove(room);
                self.command(Command::Unsubscribe(room.to_owned()));
            }
        }
        if !self.0.options.quiet {
            let notice = notice_frame(&format!("{name} left"));
            Hub::deliver(&mut rooms, room, id, &notice);
            self.command(Command::Publish {
                room: room.to_owned(),
                text: notice,
            });
        }
        self.command(Command::Leave {
            room: room.to_owned(),
            id,
        });
        if rooms.is_empty() {
            self.0.emptied.notify_waiters();
        }
    }

    /// At shutdown, once the sockets are closed: waits until every local
    /// member has left (their leave notices and presence deletions queued
    /// for the relay), then until the relay has carried them out and
    /// deleted this instance's key; at most `timeout` in all (Redis may be
    /// down: then the other instances announce them after the presence
    /// TTL, once).
    pub(crate) async fn stop(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the look, so that a leave in between wakes it.
            let emptied = self.0.emptied.notified();
            if self.0.rooms.lock().unwrap().is_empty() {
                break;
            }
            if tokio::time::timeout_at(deadline, emptied).await.is_err() {
                return;
            }
        }
        let (done, carried_out) = oneshot::channel();
        if self.0.relay.send(Command::Stop(done)).await.is_ok() {
            let _ = tokio::time::timeout_at(deadline, carried_out).await;
        }
    }

    /// A notice that came through pub/sub: to every local member of its room.
    fn received(&self, channel: &str, payload: &[u8]) {
        let Some(room) = channel.strip_prefix(self.0.channel_prefix.as_str()) else {
            return;
        };
        let Ok(payload) = std::str::from_utf8(payload) else {
            return;
        };
        let Some((instance, text)) = payload.split_once('\n') else {
            return;
        };
        if instance == self.0.instance {
            return;
        }
        Hub::deliver(&mut self.0.rooms.lock().unwrap(), room, u64::MAX, text);
    }

    /// Room -> `INSTANCE:ID` -> name of every local member.
    fn snapshot(&self) -> Vec<(String, Vec<(String, String)>)> {
        let rooms = self.0.rooms.lock().unwrap();
        rooms
            .iter()
            .map(|(room, members)| {
                let fields = members
                    .iter()
                    .map(|(id, m)| (format!("{}:{id}", self.0.instance), m.name.clone()))
                    .collect();
                (room.clone(), fields)
            })
            .collect()
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    h.finish()
}

fn say(line: &str) {
    println!("{line}");
    std::io::stdout().flush().ok();
}

/// Connects, serves until Redis goes away, and again after a backoff.
/// Commands that come while Redis is away are dropped.
async fn relay_task(hub: Hub, client: redis::Client, mut commands: mpsc::Receiver<Command>) {
    let mut backoff = Duration::from_millis(100);
    let mut down_said = false;
    loop {
        match session(&hub, &client, &mut commands).await {
            Ok(()) => return, // every sender gone: the server stopped
            Err((error, was_up)) => {
                if was_up {
                    backoff = Duration::from_millis(100);
                }
                if !down_said || was_up {
                    say(&format!("redis down: {error}"));
                    down_said = true;
                }
            }
        }
        let wake = tokio::time::Instant::now() + backoff;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => break,
                command = commands.recv() => if command.is_none() { return },
            }
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// One connection's life. `Err((error, was_up))`.
async fn session(
    hub: &Hub,
    client: &redis::Client,
    commands: &mut mpsc::Receiver<Command>,
) -> Result<(), (redis::RedisError, bool)> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| (e, false))?;
    let (mut sink, mut stream) = client
        .get_async_pubsub()
        .await
        .map_err(|e| (e, false))?
        .split();
    let ttl = hub.0.options.ttl;
    let up = async {
        alive(hub, &mut conn).await?;
        let rooms = hub.snapshot();
        for (room, fields) in &rooms {
            sink.subscribe(hub.channel(room)).await?;
            if !fields.is_empty() {
                let _: () = conn.hset_multiple(hub.members_key(room), fields).await?;
            }
        }
        // Posts and replays on a new connection too: the one they had
        // may be to the Redis that went away.
        hub.broken().await;
        say(&format!("redis up ({} rooms)", rooms.len()));
        Ok::<_, redis::RedisError>(())
    };
    up.await.map_err(|e| (e, false))?;

    let mut tick = tokio::time::interval(ttl / 3);
    let mut batch = Vec::new();
    let result = loop {
        tokio::select! {
            n = commands.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    return Ok(());
                }
                if let Err(e) = run(hub, &mut conn, &mut sink, batch.drain(..)).await {
                    break e;
                }
            }
            message = stream.next() => match message {
                Some(message) => hub.received(message.get_channel_name(), message.get_payload_bytes()),
                None => break redis::RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "the subscription connection closed",
                )),
            },
            _ = tick.tick() => {
                if let Err(e) = alive(hub, &mut conn).await {
                    break e;
                }
                if let Err(e) = sweep(hub, &mut conn).await {
                    break e;
                }
            }
        }
    };
    Err((result, true))
}

/// Refreshes this instance's key.
async fn alive(hub: &Hub, conn: &mut MultiplexedConnection) -> redis::RedisResult<()> {
    let ttl = hub.0.options.ttl.as_millis() as u64;
    redis::cmd("SET")
        .arg(hub.instance_key(&hub.0.instance))
        .arg(1)
        .arg("PX")
        .arg(ttl)
        .query_async(conn)
        .await
}

/// Carries out a batch of commands in order; runs of publishes go in one
/// pipeline.
async fn run(
    hub: &Hub,
    conn: &mut MultiplexedConnection,
    sink: &mut PubSubSink,
    batch: impl Iterator<Item = Command>,
) -> redis::RedisResult<()> {
    let mut pipe = redis::pipe();
    let mut pending = 0;
    for command in batch {
        if let Command::Publish { room, text } = command {
            let payload = format!("{}\n{text}", hub.0.instance);
            pipe.publish(hub.channel(&room), payload).ignore();
            pending += 1;
            continue;
        }
        if pending > 0 {
            let _: () = pipe.query_async(conn).await?;
            pipe.clear();
            pending = 0;
        }
        match command {
            Command::Publish { .. } => unreachable!(),
            Command::Subscribe(room) => sink.subscribe(hub.channel(&room)).await?,
            Command::Unsubscribe(room) => {
                // Subscribed again at once if someone joined meanwhile.
                if !hub.0.rooms.lock().unwrap().contains_key(&room) {
                    sink.unsubscribe(hub.channel(&room)).await?;
                }
            }
            Command::Join { room, id, name } => {
                let key = hub.members_key(&room);
                let _: () = conn
                    .hset(&key, format!("{}:{id}", hub.0.instance), name)
                    .await?;
                let _: () = conn
                    .pexpire(&key, 3 * hub.0.options.ttl.as_millis() as i64)
                    .await?;
                online(hub, conn, &room).await?;
            }
            Command::Leave { room, id } => {
                let key = hub.members_key(&room);
                let _: () = conn.hdel(&key, format!("{}:{id}", hub.0.instance)).await?;
                online(hub, conn, &room).await?;
            }
            Command::Stop(done) => {
                let _: () = conn.del(hub.instance_key(&hub.0.instance)).await?;
                let _ = done.send(());
            }
        }
    }
    if pending > 0 {
        let _: () = pipe.query_async(conn).await?;
    }
    Ok(())
}

/// Posts `* N online` in `room`.
async fn online(hub: &Hub, conn: &mut MultiplexedConnection, room: &str) -> redis::RedisResult<()> {
    if hub.0.options.quiet {
        return Ok(());
    }
    let n: u64 = conn.hlen(hub.members_key(room)).await?;
    let text = notice_frame(&format!("{n} online"));
    {
        let mut rooms = hub.0.rooms.lock().unwrap();
        Hub::deliver(&mut rooms, room, u64::MAX, &text);
    }
    let payload = format!("{}\n{text}", hub.0.instance);
    conn.publish(hub.channel(room), payload).await
}

/// Deletes the members of dead instances from this instance's rooms and
/// announces them gone; keeps the rooms' hashes from expiring while this
/// instance lives.
async fn sweep(hub: &Hub, conn: &mut MultiplexedConnection) -> redis::RedisResult<()> {
    let rooms: Vec<String> = hub.0.rooms.lock().unwrap().keys().cloned().collect();
    for room in rooms {
        let key = hub.members_key(&room);
        let _: () = conn
            .pexpire(&key, 3 * hub.0.options.ttl.as_millis() as i64)
            .await?;
        let members: HashMap<String, String> = conn.hgetall(&key).await?;
        let mut alive: HashMap<String, bool> = HashMap::new();
        let mut gone = false;
        for (field, name) in members {
            let Some((instance, _)) = field.split_once(':') else {
                continue;
            };
            if instance == hub.0.instance {
                continue;
            }
            let live = match alive.get(instance) {
                Some(&live) => live,
                None => {
                    let live: bool = conn.exists(hub.instance_key(instance)).await?;
                    alive.insert(instance.to_owned(), live);
                    live
                }
            };
            if live {
                continue;
            }
            // HDEL answers 1 to one instance only: that one announces it.
            let removed: u64 = conn.hdel(&key, &field).await?;
            if removed == 1 && !hub.0.options.quiet {
                gone = true;
                let text = notice_frame(&format!("{name} left"));
                {
                    let mut rooms = hub.0.rooms.lock().unwrap();
                    Hub::deliver(&mut rooms, &room, u64::MAX, &text);
                }
                let payload = format!("{}\n{text}", hub.0.instance);
                let _: () = conn.publish(hub.channel(&room), payload).await?;
            }
        }
        if gone {
            online(hub, conn, &room).await?;
        }
    }
    Ok(())
}

/// `/ws?name=NAME&room=ROOM&since=ID` with `--redis`: joins ROOM (`lobby`
/// by default) on every instance, same-origin only, with a heartbeat,
/// after replaying the posts after ID (a malformed ID: 400); a post
/// longer than `--max-message` closes the socket with 1009.
pub(crate) async fn chat(ws: WebSocketUpgrade, State(hub): State<Hub>) -> Response {
    let id = hub.0.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let name = match ws.request().query_param("name") {
        Some(name) if valid_name(&name) => name.into_owned(),
        _ => format!("guest-{id}"),
    };
    let room = match ws.request().query_param("room") {
        Some(room) if valid_name(&room) => room.into_owned(),
        _ => "lobby".to_owned(),
    };
    let since = match super::since(&ws) {
        Ok(since) => since,
        Err(response) => return *response,
    };
    let method = if ws.request().is_extended_connect() {
        "CONNECT"
    } else {
        "GET"
    };
    println!("socket {name} {:?} {method}", ws.version());
    std::io::stdout().flush().ok();
    let mut config = wsproto::Config::default();
    config.ping_interval = Some(Duration::from_secs(20));
    // RFC 6455 §7.4.1: 1009 "indicates that an endpoint is terminating
    // the connection because it has received a message that is too big
    // for it to process". The core closes with it; nothing is stored.
    config.max_message_size = hub.0.options.max_message;
    #[cfg(feature = "deflate")]
    let ws = ws.deflate(super::deflate());
    ws.config(config)
        .origin_policy(OriginPolicy::new().same_origin(true))
        .connection_set(&hub.0.set)
        .on_upgrade(move |socket| member(socket, hub, room, id, name, since))
}

async fn member(
    socket: WebSocket,
    hub: Hub,
    room: String,
    id: u64,
    name: String,
    since: Option<StreamId>,
) {
    let (mut reader, writer) = socket.into_split();
    let (queue, mut inbox) = mpsc::channel::<Out>(QUEUE);
    // In the room first (its live posts queue up), then the replay: the
    // writer skips the live posts the replay already sent.
    // Acks go to the writer too, but only while the member is in the
    // room (one dropped for being slow has its writer closed).
    let acks = queue.downgrade();
    let mut member = Member {
        name: name.clone(),
        queue,
    };
    let mut start = None;
    let position = loop {
        match hub.join(&room, id, member, start) {
            Ok(position) => break position,
            Err(again) => member = again,
        }
        start = Some(hub.last_id(&room).await);
    };
    // As on one server: the frame shared by every local member, a socket
    // with more than `max_write_buffer` waiting closed with 1013.
    let welcome = welcome_frame(&name, since.or(position));
    let (replayer, replay_room) = (hub.clone(), room.clone());
    tokio::spawn(async move {
        let send = async |message: &PreparedMessage| {
            matches!(writer.send_prepared(message).await, Ok(Delivery::Queued))
        };
        if !send(&PreparedMessage::text(welcome)).await {
            return;
        }
        let mut last = None;
        if let Some(since) = since {
            let mut after = since;
            loop {
                let (gap, entries) = match replayer
                    .replay_page(&replay_room, after, last.is_none())
                    .await
                {
                    Ok(page) => page,
                    Err(_) => {
                        let _ = writer.close(1011, "history unavailable").await;
                        return;
                    }
                };
                if gap && !send(&PreparedMessage::text(GAP_FRAME)).await {
                    return;
                }
                last = Some(after);
                for (id, from, text) in entries.iter().filter_map(entry) {
                    if !send(&PreparedMessage::text(post_frame(id, from, text))).await {
                        return;
                    }
                    after = id;
                    last = Some(id);
                }
                if entries.len() < PAGE {
                    break;
                }
            }
        }
        while let Some(out) = inbox.recv().await {
            let message = match out {
                Out::Live(id, _) if last.is_some_and(|last| id <= last) => continue,
                Out::Live(_, message) | Out::Other(message) => message,
            };
            if !send(&message).await {
                return;
            }
        }
        let _ = writer.close(1000, "").await;
    });
    while let Some(Ok(message)) = reader.recv().await {
        let Message::Text(text) = message else {
            continue;
        };
        let incoming = Incoming::parse(text.as_str());
        let reply = match hub.store(&room, &name, &incoming).await {
            Ok((id, _)) => incoming.cid.as_deref().map(|cid| ack_frame(cid, id)),
            Err(e) => Some(notice_frame(&format!("not stored: {e}"))),
        };
        if let (Some(reply), Some(queue)) = (reply, acks.upgrade()) {
            let _ = queue.try_send(Out::Other(PreparedMessage::text(reply)));
        }
    }
    hub.leave(&room, id, &name);
}

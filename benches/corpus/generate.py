#!/usr/bin/env python3
"""Writes the compression corpora of benches/deflate_table.rs and
scripts/deflate_probe.py, deterministically (a fixed xorshift seed, no
`random` module whose sequence may change between Python versions):

- chat.jsonl: chat-like JSON, one ~4 KB message a line, each a batch of
  chat events (repeated keys, user names, timestamps, short English lines),
  what a chat server sends when a client joins or scrolls back;
- records.bin: a binary-ish protocol payload, 32-byte little-endian entity
  updates of a game-like state broadcast (ids, positions that drift, flags).

prose.txt (English prose) is not generated: it is paragraphs of this
repository's own documentation, frozen.

    python3 benches/corpus/generate.py   # rewrites the files beside it
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


class Rng:
    def __init__(self, seed):
        self.s = seed

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFFFFFFFFFF
        s ^= s >> 7
        s ^= (s << 17) & 0xFFFFFFFFFFFFFFFF
        self.s = s
        return s

    def below(self, n):
        return self.next() % n

    def pick(self, items):
        return items[self.below(len(items))]


USERS = [
    "alice", "bob", "carol_m", "dave42", "erin", "frank.w", "grace", "heidi",
    "ivan_p", "judy", "mallory", "niaj", "olivia.r", "peggy", "rupert",
    "sybil", "trent", "victor_h", "walter", "zoe_k",
]
ROOMS = ["general", "random", "dev-backend", "design", "support"]
LINES = [
    "good morning everyone",
    "has anyone looked at the deploy from last night?",
    "the build is green again, thanks for the fix",
    "I'll be ten minutes late to the standup",
    "can you share the link to the design doc?",
    "lgtm, merging now",
    "that test is flaky on the shared runners, not your change",
    "lunch at noon? the place around the corner",
    "I pushed a branch with the new login page, reviews welcome",
    "the API returns a 502 when the cache is cold",
    "we should bump the timeout to 30 seconds",
    "did the customer confirm the fix works for them?",
    "here are the numbers from the load test: p99 is 41 ms",
    "thanks! that was exactly what I needed",
    "brb, coffee",
    "the meeting moved to 3pm, same room",
    "who owns the billing service these days?",
    "I can take that ticket if nobody else has started",
    "the staging database is being restored, expect downtime",
    "nice work on the release notes",
    "is the new endpoint documented somewhere?",
    "ok, rolling back to the previous version",
    "sounds good to me",
    "please don't force-push to main",
    "the metrics dashboard looks wrong since Tuesday",
    "I'll write up the incident report this afternoon",
]
EMOJI = ["thumbsup", "tada", "eyes", "heart", "laughing", "rocket"]


def iso(ms):
    """Milliseconds since the epoch as RFC 3339 UTC, without `datetime`."""
    secs, ms = divmod(ms, 1000)
    days, secs = divmod(secs, 86400)
    # Civil from days (Howard Hinnant's algorithm).
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (m <= 2)
    h, rem = divmod(secs, 3600)
    return f"{y:04}-{m:02}-{d:02}T{h:02}:{rem // 60:02}:{rem % 60:02}.{ms:03}Z"


def chat(rng, target=4096, count=16):
    """`count` JSON lines of about `target` bytes each."""
    out = []
    msg_id = 180_000
    ts = 1_733_390_000_000
    for _ in range(count):
        room = rng.pick(ROOMS)
        # A stretch of conversation keeps coming back to a few topics.
        topics = [rng.pick(LINES) for _ in range(16)]
        events = []
        body = {"type": "history", "room": room, "events": events}
        while len(json.dumps(body, separators=(",", ":"))) < target:
            msg_id += 1
            ts += 1000 * (1 + rng.below(90))
            uid = rng.below(12)
            text = rng.pick(topics)
            if rng.below(3) == 0:
                text += " " + rng.pick(topics)
            event = {
                "type": "message",
                "id": f"msg_{msg_id}",
                "room": {"id": ROOMS.index(room) + 1, "name": room, "kind": "public"},
                "ts": iso(ts),
                "user": {
                    "id": 1000 + uid,
                    "name": USERS[uid],
                    "avatar": f"https://cdn.example.com/avatars/{1000 + uid}.png",
                    "role": "member" if uid % 7 else "admin",
                    "status": "online",
                },
                "text": text,
                "mentions": [],
                "attachments": [],
                "thread_id": None,
                "reply_to": None,
                "edited": rng.below(10) == 0,
                "pinned": False,
                "reactions": [],
            }
            if rng.below(4) == 0:
                event["reactions"].append(
                    {"emoji": rng.pick(EMOJI), "count": 1 + rng.below(5)}
                )
            events.append(event)
        events.pop()
        out.append(json.dumps(body, separators=(",", ":")))
    return "\n".join(out) + "\n"


def records(rng, count=2048):
    """`count` 32-byte entity updates: u32 id, u16 kind, u16 flags,
    3 x f32 position, 2 x f32 velocity, u32 tick."""
    entities = []
    for i in range(256):
        entities.append([
            10_000 + i,
            rng.below(6),
            [float(rng.below(4000)) / 4, float(rng.below(4000)) / 4, 0.0],
        ])
    out = bytearray()
    tick = 500_000
    for n in range(count):
        if n % 64 == 0:
            tick += 1
        e = entities[rng.below(len(entities))]
        vx = (rng.below(2001) - 1000) / 256
        vy = (rng.below(2001) - 1000) / 256
        e[2][0] += vx / 30
        e[2][1] += vy / 30
        flags = rng.below(4) | (0x10 if rng.below(8) == 0 else 0)
        out += struct.pack("<IHHfffffI", e[0], e[1], flags, *e[2], vx, vy, tick)
    return bytes(out)


def main():
    with open(os.path.join(HERE, "chat.jsonl"), "w") as f:
        f.write(chat(Rng(0x2545F4914F6CDD1D)))
    with open(os.path.join(HERE, "records.bin"), "wb") as f:
        f.write(records(Rng(0x9E3779B97F4A7C15)))


if __name__ == "__main__":
    main()

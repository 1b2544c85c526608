#!/usr/bin/env python3
"""The outside check of issue 33: server memory per connection with
permessage-deflate on, measured from outside the process.

Starts a server binary (examples/axum_chat by default, which prints
`listening on ADDR`), reads its VmRSS from /proc/PID/status, then opens N
connections (default 500) to `/echo`, each offering permessage-deflate
exactly as Chromium does (`Sec-WebSocket-Extensions: permessage-deflate;
client_max_window_bits`), each sending one ~4 KB chat-like JSON text
compressed (a line of benches/corpus/chat.jsonl) and reading the echo,
then a short line (under the server's 1 KiB threshold: its echo must come
back uncompressed).
With every connection still open, it reads VmRSS again and prints:

- how many connections agreed permessage-deflate, and the server's answers;
- the echo's compressed payload size over the text's (RSV1 set on every
  echo, checked), worst and mean;
- the server's RSS growth per connection.

Needs Python `websockets` (pip install websockets, in a venv):

    cargo build --release --features axum,tls,deflate --example axum_chat
    python3 scripts/deflate_probe.py target/release/examples/axum_chat
    python3 scripts/deflate_probe.py BINARY --connections 500 --json
Exits 1 when a limit is missed (--max-kib, default 48; --max-ratio, 0.20).
"""
import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time

from websockets.asyncio.client import connect
from websockets.extensions import permessage_deflate
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "benches", "corpus", "chat.jsonl")

# Every data frame received, by connection (its extension object):
# (rsv1, payload length on the wire).
RECEIVED = {}
_decode = permessage_deflate.PerMessageDeflate.decode


def recording_decode(self, frame, *, max_size=None):
    if frame.opcode in (1, 2):
        RECEIVED.setdefault(id(self), []).append((frame.rsv1, len(frame.data)))
    return _decode(self, frame, max_size=max_size)


permessage_deflate.PerMessageDeflate.decode = recording_decode


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def one(url, text, limit, results, all_open):
    async with limit:
        # Chromium's offer, byte for byte (checked below).
        factory = ClientPerMessageDeflateFactory(client_max_window_bits=True)
        ws = await connect(url, extensions=[factory], compression=None, max_size=None)
        offer = ws.request.headers["Sec-WebSocket-Extensions"]
        assert offer == "permessage-deflate; client_max_window_bits", offer
        answer = ws.response.headers.get("Sec-WebSocket-Extensions")
        await ws.send(text)
        echo = await ws.recv()
        # And a short line, under the server's threshold: echoed as it is.
        short = '{"type":"typing","user":"alice"}'
        await ws.send(short)
        short_echo = await ws.recv()
        frames = RECEIVED.get(id(ws.protocol.extensions[0]), []) if ws.protocol.extensions else []
        results.append((answer, echo == text and short_echo == short, frames, len(text.encode())))
    # Held open until every connection has echoed and RSS is read.
    await all_open.wait()
    await ws.close()


async def run(args, pid, addr):
    lines = [line for line in open(CORPUS).read().split("\n") if line]
    texts = [lines[i % len(lines)] for i in range(args.connections)]
    url = f"ws://{addr}/echo"
    results = []
    all_open = asyncio.Event()
    limit = asyncio.Semaphore(50)
    tasks = [
        asyncio.create_task(one(url, text, limit, results, all_open)) for text in texts
    ]
    while len(results) < len(texts):
        failed = [t for t in tasks if t.done() and t.exception()]
        if failed:
            raise failed[0].exception()
        await asyncio.sleep(0.01)
    # Let the server finish its writes and free what it frees.
    await asyncio.sleep(args.settle)
    after = rss_kib(pid)
    all_open.set()
    await asyncio.gather(*tasks)
    return results, after, [len(t.encode()) for t in texts]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--max-kib", type=float, default=48.0)
    parser.add_argument("--max-ratio", type=float, default=0.20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    server = subprocess.Popen(
        [args.binary, "127.0.0.1:0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = server.stdout.readline()
        m = re.search(r"listening on (\S+)", line)
        if not m:
            sys.exit(f"no 'listening on' line: {line!r}")
        addr = m.group(1)
        time.sleep(0.5)
        before = rss_kib(server.pid)
        results, after, sizes = asyncio.run(run(args, server.pid, addr))
    finally:
        server.kill()
        server.wait()

    answers = {}
    for answer, _, _, _ in results:
        answers[answer] = answers.get(answer, 0) + 1
    agreed = sum(n for a, n in answers.items() if a and "permessage-deflate" in a)
    echoed = sum(1 for _, ok, _, _ in results if ok)
    # Each connection: the long echo compressed, the short one not.
    ratios = [f[0][1] / size for _, _, f, size in results if len(f) == 2 and f[0][0]]
    compressed = ratios
    short_plain = sum(1 for _, _, f, _ in results if len(f) == 2 and not f[1][0])
    per_conn = (after - before) / args.connections
    report = {
        "connections": args.connections,
        "agreed_deflate": agreed,
        "answers": answers,
        "echoes_equal": echoed,
        "long_echo_compressed": len(compressed),
        "short_echo_plain": short_plain,
        "ratio_max": round(max(ratios), 4) if ratios else None,
        "ratio_mean": round(sum(ratios) / len(ratios), 4) if ratios else None,
        "text_bytes_mean": round(sum(sizes) / len(sizes)),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "rss_per_connection_kib": round(per_conn, 1),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k}: {v}")
    ok = (
        agreed == args.connections
        and echoed == args.connections
        and len(compressed) == args.connections
        and short_plain == args.connections
        and ratios
        and max(ratios) <= args.max_ratio
        and per_conn <= args.max_kib
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Issue 32's flood against a running server: PEERS connections each send
the header of a 16 MiB binary frame and 15 MiB of its payload, then stop.
Samples the server's RSS (from /proc) while the flood lasts, and times a
fresh small echo in the middle of it.

    python3 scripts/budget_probe.py PID ws://127.0.0.1:PORT/PATH [PEERS] [SECONDS]

Prints the RSS before, its peak during the flood, the growth, the echo's
time and how the peers ended (the close codes the server sent, or how
their connection went). No dependency beyond the standard library.
"""

import asyncio
import base64
import os
import struct
import sys
import time
import urllib.parse

DECLARED = 16 << 20
SENT = 15 << 20
CHUNK = 1 << 20


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def handshake(host, port, path):
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.split(b"\r\n")[0].decode())
    return reader, writer


async def parked_peer(host, port, path, seconds):
    """Sends most of a large frame; returns how the connection ended."""
    try:
        reader, writer = await handshake(host, port, path)
    except Exception as e:  # refused, reset: counted as such
        return f"handshake: {type(e).__name__}"
    header = bytes([0x82, 0x80 | 127]) + struct.pack(">Q", DECLARED) + b"\0\0\0\0"
    payload = b"\7" * CHUNK

    async def send():
        writer.write(header)
        for _ in range(SENT // CHUNK):
            writer.write(payload)
            await writer.drain()

    async def answer():
        head = await reader.readexactly(4)
        if head[0] == 0x88:
            return f"close {struct.unpack('>H', head[2:4])[0]}"
        return f"frame 0x{head[0]:02x}"

    sending = asyncio.ensure_future(send())
    try:
        return await asyncio.wait_for(answer(), seconds)
    except asyncio.TimeoutError:
        return "still open"
    except Exception as e:
        return type(e).__name__
    finally:
        sending.cancel()
        writer.transport.abort()


async def small_echo(host, port, path):
    started = time.monotonic()
    reader, writer = await handshake(host, port, path)
    payload = b"still here"
    writer.write(bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
    await writer.drain()
    head = await asyncio.wait_for(reader.readexactly(2 + len(payload)), 30)
    took = time.monotonic() - started
    writer.transport.abort()
    assert head[2:] == payload, head
    return took


async def main():
    pid = int(sys.argv[1])
    url = urllib.parse.urlsplit(sys.argv[2])
    peers = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 30
    host, port, path = url.hostname, url.port, url.path or "/"

    before = rss_kib(pid)
    peak = before
    flood = [
        asyncio.ensure_future(parked_peer(host, port, path, seconds))
        for _ in range(peers)
    ]
    started = time.monotonic()
    echo = None
    while not all(task.done() for task in flood):
        peak = max(peak, rss_kib(pid))
        if echo is None and time.monotonic() - started > 5:
            echo = await small_echo(host, port, path)
            peak = max(peak, rss_kib(pid))
        await asyncio.sleep(0.1)
    ends = {}
    for task in flood:
        ends[task.result()] = ends.get(task.result(), 0) + 1
    after = rss_kib(pid)
    print(f"peers:        {peers} x {SENT >> 20} MiB of a {DECLARED >> 20} MiB frame")
    print(f"rss before:   {before / 1024:.1f} MiB")
    print(f"rss peak:     {peak / 1024:.1f} MiB (+{(peak - before) / 1024:.1f} MiB)")
    print(f"rss after:    {after / 1024:.1f} MiB")
    print(f"small echo:   {echo * 1000:.1f} ms, 5 s into the flood")
    print(f"flood lasted: {time.monotonic() - started:.1f} s")
    print(f"peers ended:  {dict(sorted(ends.items()))}")


asyncio.run(main())

"""Interop with Python `websockets` (permessage-deflate on by default).

    interop_websockets.py server PORTFILE   echo server; writes its port to
                                            PORTFILE; exits after one
                                            connection, non-zero unless it
                                            used permessage-deflate
    interop_websockets.py echo PORTFILE     echo server for a client that
                                            may not offer deflate; writes
                                            its port to PORTFILE; exits
                                            after one connection
    interop_websockets.py client URL        sends messages to an echo
                                            server, checks each echo, that
                                            permessage-deflate was agreed,
                                            and that every echo came
                                            compressed (the testee's
                                            threshold is 0)

Driven by scripts/interop_websockets.sh.
"""

import sys
import threading

from websockets.extensions import permessage_deflate
from websockets.sync.client import connect
from websockets.sync.server import serve

# RSV1 of every data frame received by a client (compressed or not).
RECEIVED_RSV1 = []
_decode = permessage_deflate.PerMessageDeflate.decode


def recording_decode(self, frame, *, max_size=None):
    if frame.opcode in (1, 2):
        RECEIVED_RSV1.append(frame.rsv1)
    return _decode(self, frame, max_size=max_size)


def deflate_in_use(ws):
    return any(e.name == "permessage-deflate" for e in ws.protocol.extensions)


def serve_one(portfile):
    """Echoes every message of one connection (permessage-deflate when the
    client offers it) and says what happened. Like every `websockets`
    server, it sends nothing more once the client's Close has arrived: a
    client that closes right after its last message loses the echoes still
    on their way."""
    outcome = {"count": 0}
    done = threading.Event()

    def echo(ws):
        outcome["deflate"] = deflate_in_use(ws)
        try:
            for message in ws:
                ws.send(message)
                outcome["count"] += 1
        finally:
            done.set()

    with serve(echo, "127.0.0.1", 0, max_size=None, compression="deflate") as server:
        with open(portfile, "w") as f:
            f.write(str(server.socket.getsockname()[1]))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        done.wait(60)
        server.shutdown()
    return outcome


def run_server(portfile):
    outcome = serve_one(portfile)
    print(f"python server: {outcome}")
    return 0 if outcome.get("deflate") and outcome["count"] else 1


def run_echo(portfile):
    outcome = serve_one(portfile)
    print(f"python echo server: {outcome['count']} messages echoed")
    return 0


def run_client(url):
    json = "".join(f'{{"id":{i},"name":"user{i % 97}"}},' for i in range(20000))
    messages = ["", "Hello", "Hello", "héllo wörld ✓", json[:1000], json,
                b"", bytes(100_000), bytes(range(256)) * 300]
    permessage_deflate.PerMessageDeflate.decode = recording_decode
    with connect(url, max_size=None, compression="deflate") as ws:
        if not deflate_in_use(ws):
            print("python client: permessage-deflate not agreed")
            return 1
        answer = ws.response.headers.get("Sec-WebSocket-Extensions")
        for message in messages:
            ws.send(message)
            if ws.recv() != message:
                print(f"python client: echo differs for a {type(message).__name__} of {len(message)}")
                return 1
    # examples/autobahn_server compresses every message, however short.
    expected = [True] * len(messages)
    if RECEIVED_RSV1 != expected:
        print(f"python client: RSV1 of the echoes {RECEIVED_RSV1}, expected all set")
        return 1
    print(f"python client: {len(messages)} echoes matched with permessage-deflate ({answer}), "
          f"{sum(expected)} of them compressed")
    return 0


if __name__ == "__main__":
    mode, arg = sys.argv[1], sys.argv[2]
    run = {"server": run_server, "echo": run_echo, "client": run_client}[mode]
    sys.exit(run(arg))

#!/usr/bin/env python3
"""reel serve against clients that misbehave: usage serve-bad-clients.py REEL MODEL.gguf. Slow
senders that trickle a request's header or body a byte at a time are dropped within
--idle-timeout while a normal request is answered; a client that resets its connection in the
middle of a stream leaves a concurrent request's tokens as they are alone; with the common soft
limit of 1024 descriptors, 1000 idle connections stay open while a normal request is answered,
past --max-connections a connection gets 503 and is closed, and SIGTERM closes the idle ones.
Prints one 'OK ...' line per check."""
import json
import resource
import select
import socket
import struct
import sys
import threading
import time

import reelserve
from reelserve import check

REEL, MODEL = sys.argv[1], sys.argv[2]
PROMPT = "def fibonacci(n):"
# Long enough for a normal request to be answered under ASan on a loaded 2-core machine while
# the slow senders trickle (the check is that it is answered before they are dropped).
IDLE_TIMEOUT = 6
IDLE_CONNECTIONS = 1000


def completion(server, prompt, max_tokens, **fields):
    status, _, body = server.post("/v1/completions", dict(prompt=prompt, max_tokens=max_tokens, **fields))
    check(status == 200, "completion status %d: %s" % (status, body))
    return body


def closed_by_peer(sock):
    """True when the server has closed (or reset) `sock`."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    try:
        return sock.recv(65536) == b""
    except ConnectionError:
        return True


def trickle(port, prefix, data, outcome):
    """Sends `prefix` at once, then `data` a byte every 100 ms; records when the server dropped
    the connection and how many bytes of `data` it had by then."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        start = time.time()
        sock.sendall(prefix)
        for sent in range(len(data)):
            try:
                sock.sendall(data[sent:sent + 1])
            except ConnectionError:
                break
            time.sleep(0.1)
            if closed_by_peer(sock):
                break
        outcome.update(seconds=time.time() - start, sent=sent, total=len(data), at=time.time())


def check_slow_senders(server, meanwhile):
    """Slow senders trickle while a normal request is answered, then while `meanwhile` runs."""
    header = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + b"X-Pad: y\r\n" * 8
    body = json.dumps(dict(prompt=PROMPT, max_tokens=2)).encode() + b" " * 100
    slow_header, slow_body = {}, {}
    threads = [threading.Thread(target=trickle, args=(server.port, b"", header + b"\r\n", slow_header)),
               threading.Thread(target=trickle, args=(
                   server.port, header + b"Content-Length: %d\r\n\r\n" % len(body), body, slow_body))]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    completion(server, PROMPT, 2, temperature=0)
    answered = time.time()
    meanwhile(server)
    for thread in threads:
        thread.join()
    for name, outcome in (("header", slow_header), ("body", slow_body)):
        check(outcome["sent"] < outcome["total"] // 2, "the slow %s was dropped before it was sent: %s" % (name, outcome))
        check(IDLE_TIMEOUT - 0.5 < outcome["seconds"] < IDLE_TIMEOUT + 2, "dropped within --idle-timeout: %s" % outcome)
        check(answered < outcome["at"], "the normal request was answered while the slow %s was still sending" % name)
    print("OK slow senders of a header or a body are dropped within --idle-timeout; others are answered meanwhile")


def stream_text(payload):
    """The text and usage of a streamed completion's events, up to data: [DONE]."""
    text, usage = "", None
    for event in payload.decode().split("\n\n"):
        if not event or event == "data: [DONE]":
            continue
        chunk = json.loads(event[len("data: "):])
        text += "".join(choice["text"] for choice in chunk["choices"])
        usage = chunk.get("usage") or usage
    return text, usage


def start_stream(server, max_tokens):
    connection = server.connect()
    connection.request("POST", "/v1/completions", body=json.dumps(
        dict(prompt=PROMPT, max_tokens=max_tokens, temperature=0, ignore_eos=True, stream=True)))
    response = connection.getresponse()
    check(response.status == 200, "stream status %d" % response.status)
    return connection, response


def check_reset_mid_stream(server):
    connection, response = start_stream(server, 12)
    alone = stream_text(response.read())
    connection.close()
    before = server.metrics()['reel_requests_total{outcome="cancelled"}']
    leaving, first = start_stream(server, 240)
    check(first.readline().startswith(b"data: "), "the leaving stream started")
    staying, second = start_stream(server, 12)
    started = second.readline()
    check(started.startswith(b"data: "), "the staying stream started")
    # A reset, not a close: SO_LINGER with a zero timeout.
    leaving.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    first.close()  # the response's file holds the socket open too
    leaving.close()
    text, usage = stream_text(started + second.read())
    staying.close()
    check((text, usage) == alone, "the staying stream's tokens %r %s, alone %r %s" % (text, usage, *alone))
    deadline = time.time() + 20
    while server.metrics()['reel_requests_total{outcome="cancelled"}'] != before + 1:
        check(time.time() < deadline, "the reset stream is cancelled")
        time.sleep(0.02)
    print("OK a client that resets its stream midway leaves a concurrent stream's tokens as they are alone")


def soft_limit_1024():
    """The common default soft limit on descriptors (the hard one stays): the server raises it."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))


def check_idle_connections():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = IDLE_CONNECTIONS + 64
    check(hard == resource.RLIM_INFINITY or hard >= 5 * needed, "the hard descriptor limit %d holds too few" % hard)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    server = reelserve.Server(REEL, MODEL, "--max-connections", str(IDLE_CONNECTIONS + 1), setup=soft_limit_1024)
    idle = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=30))
        # The request's connection is accepted after the idle ones: it is the last one allowed.
        busy = server.connect()
        busy.request("POST", "/v1/completions", body=json.dumps(dict(prompt=PROMPT, max_tokens=4, temperature=0)))
        response = busy.getresponse()
        check(response.status == 200 and json.loads(response.read())["usage"]["completion_tokens"] == 4,
              "a request among %d idle connections" % IDLE_CONNECTIONS)
        check(not any(closed_by_peer(sock) for sock in idle), "every idle connection stays open")
        print("OK %d idle connections stay open and a request among them is answered" % IDLE_CONNECTIONS)
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as extra:
            reply = extra.recv(65536)
            check(reply.startswith(b"HTTP/1.1 503 Service Unavailable"), "past --max-connections: %r" % reply[:40])
            extra.settimeout(5)
            check(extra.recv(65536) == b"", "past --max-connections the connection closes")
        busy.close()
        deadline = time.time() + 20
        while True:  # once the server has seen the close, a connection is free again
            try:
                if server.request("GET", "/health")[0] == 200:
                    break
            except ConnectionError:
                pass
            check(time.time() < deadline, "a connection closed frees its place")
            time.sleep(0.02)
        print("OK past --max-connections a connection gets 503 and is closed; a closed one frees its place")
        # The drain waits for every connection: the idle ones must be closed for it to end.
        check(server.stop() == 0, "SIGTERM with %d idle connections open: exit 0" % IDLE_CONNECTIONS)
        print("OK SIGTERM closes the idle connections and exits 0")
    finally:
        server.kill()
        for sock in idle:
            sock.close()


# 64-row prefill steps keep each step of the CPU reference short under the sanitizers, so the
# normal request is answered within --idle-timeout.
server = reelserve.Server(REEL, MODEL, "--idle-timeout", str(IDLE_TIMEOUT), "--parallel", "2", "--prefill-tokens", "64")
try:
    check_slow_senders(server, check_reset_mid_stream)
    check(server.stop() == 0, "exit 0 on SIGTERM")
finally:
    server.kill()
check_idle_connections()

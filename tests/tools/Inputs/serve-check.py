#!/usr/bin/env python3
"""reel serve through a real HTTP client (the standard library's http.client): usage
serve-check.py REEL MODEL.gguf OTHERS [DEVICE]. Starts the server on a free port (--port 0) on
DEVICE (default cpu, the CPU reference), checks the OpenAI shapes of every endpoint (JSON and server-sent events), that a
greedy request gives the same text alone and among OTHERS concurrent requests, the 4xx answers
to bad requests, 429 past the queue, cancellation by a client that goes away, a request past
--timeout, /metrics as Prometheus text, and a drain on SIGTERM. Prints one 'OK ...' line per check.
The queue, cancellation and timeout checks rely on steps slow enough to observe (the CPU
reference's) and run only with DEVICE cpu."""
import json
import signal
import socket
import sys
import threading
import time

import reelserve
from reelserve import check

REEL, MODEL, OTHERS = sys.argv[1], sys.argv[2], int(sys.argv[3])
DEVICE = sys.argv[4] if len(sys.argv) > 4 else "cpu"
PROMPT = "def fibonacci(n):"


def Server(*extra):
    return reelserve.Server(REEL, MODEL, *extra, device=DEVICE)


def stream(server, path, body):
    """The JSON chunks of a streamed answer, checking the SSE framing and [DONE]."""
    connection = server.connect()
    connection.request("POST", path, body=json.dumps(dict(body, stream=True)))
    response = connection.getresponse()
    check(response.status == 200, "stream status %d" % response.status)
    check(response.getheader("Content-Type") == "text/event-stream", "stream content type")
    text = response.read().decode()
    connection.close()
    events = [e for e in text.split("\n\n") if e]
    check(all(e.startswith("data: ") for e in events), "every SSE event is 'data: ...'")
    check(events[-1] == "data: [DONE]", "the stream ends with data: [DONE]")
    return [json.loads(e[len("data: "):]) for e in events[:-1]]


def completion(server, prompt, max_tokens, **fields):
    status, _, body = server.post("/v1/completions", dict(prompt=prompt, max_tokens=max_tokens, **fields))
    check(status == 200, "completion status %d: %s" % (status, body))
    return body


def check_shapes(server):
    status, _, payload = server.request("GET", "/health")
    check(status == 200 and json.loads(payload) == {"status": "ok"}, "/health")
    status, _, payload = server.request("GET", "/v1/models")
    models = json.loads(payload)
    check(status == 200 and models["object"] == "list" and models["data"][0]["object"] == "model", "/v1/models")
    check(models["data"][0]["meta"] == {"n_vocab": 4096, "n_ctx": 256}, "/v1/models meta: %s" % models["data"][0])
    print("OK health and models")

    body = completion(server, PROMPT, 12, temperature=0)
    check(body["object"] == "text_completion" and body["id"].startswith("cmpl-"), "completion object and id")
    choice = body["choices"][0]
    check(choice["index"] == 0 and isinstance(choice["text"], str), "completion choice")
    check(choice["finish_reason"] in ("stop", "length"), "finish_reason")
    usage = body["usage"]
    check(0 < usage["completion_tokens"] <= 12 and usage["prompt_tokens"] > 0, "usage counts")
    check(usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"], "usage total")
    chunks = stream(server, "/v1/completions", dict(prompt=PROMPT, max_tokens=12, temperature=0))
    check(all(c["object"] == "text_completion" for c in chunks), "stream chunk objects")
    check(all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1]), "finish_reason only at the end")
    check(chunks[-1]["choices"][0]["finish_reason"] == choice["finish_reason"], "stream finish_reason")
    check(chunks[-1]["usage"] == usage, "stream usage")
    check("".join(c["choices"][0]["text"] for c in chunks) == choice["text"], "stream text == non-stream text")
    with_usage = stream(server, "/v1/completions", dict(prompt=PROMPT, max_tokens=12, temperature=0,
                                                        stream_options={"include_usage": True}))
    check("".join(c["choices"][0]["text"] for c in with_usage[:-1]) == choice["text"], "include_usage: the text")
    check(with_usage[-2]["choices"][0]["finish_reason"] == choice["finish_reason"], "include_usage: finish_reason")
    check(with_usage[-1]["choices"] == [] and with_usage[-1]["usage"] == usage, "include_usage: a usage chunk last")
    print("OK completions: JSON and stream agree")

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "import os"}]
    status, _, body = server.post("/v1/chat/completions", dict(messages=messages, max_tokens=10, temperature=0))
    check(status == 200 and body["object"] == "chat.completion", "chat object")
    message = body["choices"][0]["message"]
    check(message["role"] == "assistant" and isinstance(message["content"], str), "chat message")
    chunks = stream(server, "/v1/chat/completions", dict(messages=messages, max_tokens=10, temperature=0))
    check(all(c["object"] == "chat.completion.chunk" for c in chunks), "chat chunk objects")
    check(chunks[0]["choices"][0]["delta"].get("role") == "assistant", "the first chat chunk gives the role")
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    check(content == message["content"], "chat stream content == non-stream content")
    check(chunks[-1]["choices"][0]["finish_reason"] == body["choices"][0]["finish_reason"], "chat finish_reason")
    print("OK chat completions: JSON and stream agree")


def check_parity(server):
    alone = completion(server, PROMPT, 12, temperature=0, ignore_eos=True)["choices"][0]["text"]
    before = server.metrics()
    results = {}

    def run(index):
        if index == 0:
            results[index] = completion(server, PROMPT, 12, temperature=0, ignore_eos=True)["choices"][0]["text"]
        elif index % 2:
            completion(server, "import sys\n" * (index % 5 + 1), 12, temperature=0.9, seed=index, ignore_eos=True)
        else:
            completion(server, "class Node%d:" % index, 12, temperature=0, ignore_eos=True)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(OTHERS + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check(results.get(0) == alone, "greedy text among %d others %r != alone %r" % (OTHERS, results.get(0), alone))
    after = server.metrics()
    steps = after["reel_decode_step_rows_count"] - before["reel_decode_step_rows_count"]
    single = after['reel_decode_step_rows_bucket{le="1"}'] - before['reel_decode_step_rows_bucket{le="1"}']
    check(steps > single, "some decode step ran more than one sequence")
    print("OK a greedy request's text is the same alone and among %d concurrent requests" % OTHERS)


def check_errors(server):
    cases = [
        ("/v1/completions", '{"prompt": "x", ', 400, "not valid JSON"),
        ("/v1/completions", '[1, 2]', 400, "JSON object"),
        ("/v1/completions", '{"prompt": "x", "max_tokens": "8"}', 400, "'max_tokens': expected an integer"),
        ("/v1/completions", '{"prompt": "x", "temperature": -1}', 400, "'temperature'"),
        ("/v1/completions", '{"prompt": "x", "top_p": 0}', 400, "'top_p'"),
        ("/v1/completions", '{"prompt": "x", "colour": 1}', 400, "'colour': unknown field"),
        ("/v1/completions", '{"prompt": "x", "n": 2}', 400, "only n = 1"),
        ("/v1/completions", '{"prompt": "x", "logprobs": 2}', 400, "'logprobs'"),
        ("/v1/completions", '{"prompt": "x", "stop": [1]}', 400, "'stop[0]': expected a string"),
        ("/v1/completions", '{"max_tokens": 3}', 400, "'prompt': missing"),
        ("/v1/completions", '{"prompt": "x", "stream_options": {"include_usage": true}}', 400,
         "'stream_options': only with \"stream\": true"),
        ("/v1/completions", '{"prompt": "x", "stream": true, "stream_options": {"include_usage": 1}}', 400,
         "'stream_options.include_usage': expected true or false"),
        ("/v1/completions", '{"prompt": "x", "stream": true, "stream_options": {"usage": true}}', 400,
         "'stream_options.usage': unknown field"),
        ("/v1/completions", json.dumps({"prompt": [5] * 300}), 400, "does not fit the context of 256"),
        ("/v1/chat/completions", '{"messages": [{"role": "robot", "content": "x"}]}', 400, "'messages[0].role'"),
        ("/v1/completions", json.dumps({"prompt": "x" * (2 << 20)}), 413, "exceeds"),
    ]
    for path, raw, status, fragment in cases:
        got, headers, payload = server.request("POST", path, raw=raw)
        message = json.loads(payload)["error"]["message"] if payload else ""
        check(got == status and fragment in message, "%s %r: %d %r" % (path, raw[:60], got, message))
    check(server.request("GET", "/v1/nowhere")[0] == 404, "unknown route: 404")
    check(server.request("GET", "/v1/completions")[0] == 405, "GET on a POST route: 405")
    print("OK bad requests get 400, 404, 405 or 413 with a JSON error naming the field")


def wait_for(server, key, value):
    deadline = time.time() + 20
    while server.metrics().get(key) != value:
        check(time.time() < deadline, "metric %s never reached %s" % (key, value))
        time.sleep(0.01)


def check_queue_and_cancel():
    server = Server("--parallel", "1", "--queue", "1")
    # A runs (its first chunk came), B waits in the queue, C finds it full.
    a = server.connect()
    a.request("POST", "/v1/completions", body=json.dumps(
        dict(prompt=PROMPT, max_tokens=240, temperature=0, ignore_eos=True, stream=True)))
    first = a.getresponse()
    check(first.status == 200 and first.readline().startswith(b"data: "), "A streams")
    results = {}
    b = threading.Thread(target=lambda: results.update(b=completion(server, "import re", 4, temperature=0)))
    b.start()
    wait_for(server, "reel_queue_depth", 1)
    status, headers, body = server.post("/v1/completions", dict(prompt="x", max_tokens=2))
    check(status == 429 and headers.get("Retry-After") == "1" and "queue" in body["error"]["message"], "429")
    print("OK past the queue: 429 with Retry-After")
    # A's client goes away: its sequence is cancelled and B gets the slot.
    a.sock.shutdown(socket.SHUT_RDWR)
    a.close()
    b.join(timeout=30)
    check("b" in results, "B ran once A's client left")
    metrics = server.metrics()
    check(metrics['reel_requests_total{outcome="cancelled"}'] == 1, "A counted as cancelled")
    check(metrics['reel_requests_total{outcome="queue_full"}'] == 1, "C counted as queue_full")
    wait_for(server, "reel_running_sequences", 0)
    check(server.metrics()["reel_queue_depth"] == 0, "nothing left waiting")
    # F waits for a whole (not streamed) answer; its client leaves once F runs.
    f = server.connect()
    f.request("POST", "/v1/completions", body=json.dumps(
        dict(prompt=PROMPT, max_tokens=240, temperature=0, ignore_eos=True)))
    wait_for(server, "reel_running_sequences", 1)
    f.sock.shutdown(socket.SHUT_RDWR)
    f.close()
    wait_for(server, 'reel_requests_total{outcome="cancelled"}', 2)
    wait_for(server, "reel_running_sequences", 0)
    print("OK a client that goes away cancels its sequence and frees its slot")

    # SIGTERM while D streams: D still completes, then the server exits 0.
    d = server.connect()
    d.request("POST", "/v1/completions", body=json.dumps(
        dict(prompt=PROMPT, max_tokens=8, temperature=0, ignore_eos=True, stream=True)))
    response = d.getresponse()
    check(response.readline().startswith(b"data: "), "D streams")
    server.process.send_signal(signal.SIGTERM)
    rest = response.read().decode()
    check(rest.rstrip().endswith("data: [DONE]"), "D runs to its end after SIGTERM")
    check(server.exit_code() == 0, "exit 0 after SIGTERM")
    print("OK SIGTERM drains the running request and exits 0")


def check_raw_http(server):
    """A body sent only after "100 Continue" (as curl does for large bodies), and bytes that are not HTTP."""
    body = json.dumps(dict(prompt=PROMPT, max_tokens=2, temperature=0)).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
        raw.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        raw.settimeout(0.5)  # well under curl's 1 s wait: the server must answer at once
        check(raw.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), "100 Continue")
        raw.settimeout(30)
        raw.sendall(body)
        check(raw.recv(65536).startswith(b"HTTP/1.1 200 OK"), "the answer after 100 Continue")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        reply = raw.recv(65536)
        check(reply.startswith(b"HTTP/1.1 400 Bad Request") and b"malformed HTTP request" in reply, "not HTTP: 400")
    print("OK 100 Continue before a body; bytes that are not HTTP get 400")


def check_timeout():
    """Eight requests of 240 tokens decode together, a step of eight rows at a time on the CPU
    reference: far more than the --timeout of one second. Each ends with what it has."""
    server = Server("--parallel", "8", "--timeout", "1")
    bodies = []
    request = lambda: bodies.append(completion(server, PROMPT, 240, temperature=0, ignore_eos=True))
    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check(all(b["choices"][0]["finish_reason"] == "timeout" for b in bodies), "finish_reason: timeout")
    check(all(b["usage"]["completion_tokens"] < 240 for b in bodies), "stopped early")
    check(server.metrics()['reel_requests_total{outcome="timeout"}'] == 8, "counted as timeouts")
    check(server.stop() == 0, "exit 0")
    print("OK requests past --timeout end with finish_reason timeout")


def check_metrics(server):
    metrics = server.metrics()
    for key in ['reel_requests_total{outcome="length"}', "reel_generated_tokens_total", "reel_prompt_tokens_total",
                "reel_step_seconds_count", "reel_time_to_first_token_seconds_count",
                "reel_inter_token_latency_seconds_count", "reel_bucket_occupancy_count"]:
        check(metrics.get(key, 0) > 0, "metric %s moved" % key)
    check(metrics['reel_requests_total{outcome="bad_request"}'] >= 10, "bad requests counted")
    print("OK /metrics is Prometheus text and its counters move")


server = Server("--parallel", str(OTHERS + 1), "--chat-template", "chatml")
try:
    check_shapes(server)
    check_parity(server)
    check_errors(server)
    check_raw_http(server)
    check_metrics(server)
    check(server.stop() == 0, "exit 0 on SIGTERM when idle")
finally:
    if server.process.poll() is None:
        server.process.kill()
if DEVICE == "cpu":
    check_queue_and_cancel()
    check_timeout()
else:
    # A request of 240 tokens ends within a few milliseconds on a GPU, before a client can see it
    # queued, leave it or outlast a one-second deadline: these checks need the CPU reference's
    # slower steps, and run there (the engine and the server are the same code on every device).
    print("SKIP queue, cancellation and --timeout checks: they time a step slower than %s's" % DEVICE)

#!/usr/bin/env python3
"""reel serve --step-tokens through http.client: usage step-tokens-check.py REEL MODEL.gguf.
Starts the server with a budget of one row per step and prefill chunks of 8 rows, runs three
greedy requests of different prompt lengths alone and then at once, checks that each gets the
same text both ways, and that every step that prefilled prefilled exactly one token
(reel_step_prefill_tokens). Prints one 'OK ...' line per check."""
import http.client
import json
import re
import subprocess
import sys
import threading

REEL, MODEL = sys.argv[1], sys.argv[2]
PROMPTS = ["def f(", "import os\nimport sys\n\ndef main(argv):", "class Point:"]


def fail(message):
    print("FAIL " + message)
    sys.exit(1)


def main():
    command = [REEL, "serve", MODEL, "--device", "cpu", "--threads", "2", "--port", "0", "--ctx", "128",
               "--parallel", "3", "--prefill-tokens", "8", "--step-tokens", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        match = re.search(r":(\d+)$", process.stdout.readline().strip())
        if not match:
            fail("no 'listening on' line: " + process.stderr.read())
        port = int(match.group(1))

        def post(path, body):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            connection.request("POST", path, body=json.dumps(body))
            response = connection.getresponse()
            payload = response.read()
            connection.close()
            if response.status != 200:
                fail("status %d: %s" % (response.status, payload))
            return json.loads(payload)

        def text(prompt):
            return post("/v1/completions", {"prompt": prompt, "max_tokens": 8, "temperature": 0})["choices"][0]["text"]

        alone = [text(prompt) for prompt in PROMPTS]
        together = [None] * len(PROMPTS)
        threads = [threading.Thread(target=lambda i=i: together.__setitem__(i, text(PROMPTS[i])))
                   for i in range(len(PROMPTS))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if together != alone:
            fail("texts differ: alone %r, together %r" % (alone, together))
        print("OK a greedy request's text is the same alone and among others under a budget of 1")

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/metrics")
        metrics = connection.getresponse().read().decode()
        connection.close()
        one = re.search(r'^reel_step_prefill_tokens_bucket\{le="1"\} (\d+)$', metrics, re.M)
        count = re.search(r"^reel_step_prefill_tokens_count (\d+)$", metrics, re.M)
        if not one or not count or int(count.group(1)) == 0 or one.group(1) != count.group(1):
            fail("reel_step_prefill_tokens: not one token per prefilling step:\n" + metrics)
        print("OK every step that prefilled prefilled one token")
    finally:
        process.terminate()
        process.wait(timeout=30)
        stderr = process.stderr.read()
        if "1 tokens per step" not in stderr:
            fail("the budget is not on the server's stderr line: " + stderr)


main()

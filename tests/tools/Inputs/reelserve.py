"""What the reel serve tests share: a server started on a free port (--port 0) on the CPU
reference (or DEVICE), read through the standard library's http.client, and the failure they
report (one 'FAIL ...' line, exit 1)."""
import http.client
import json
import re
import signal
import subprocess
import sys
import threading


def fail(message):
    print("FAIL " + message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


class Server:
    """`reel serve MODEL` with the flags `extra`; `setup` runs in the child before it starts."""

    def __init__(self, reel, model, *extra, device="cpu", setup=None):
        command = [reel, "serve", model, "--device", device, "--threads", "2", "--port", "0", "--ctx", "256", *extra]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        preexec_fn=setup)
        self.stderr = []
        self.reader = threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True)
        self.reader.start()
        line = self.process.stdout.readline()
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)$", line.strip())
        if not match:
            self.process.kill()
            self.reader.join(timeout=30)
            fail("no 'listening on' line: %r %s" % (line, "".join(self.stderr)))
        self.port = int(match.group(1))

    def connect(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, raw=None):
        connection = self.connect()
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        return response.status, dict(response.getheaders()), payload

    def post(self, path, body):
        status, headers, payload = self.request("POST", path, body)
        return status, headers, json.loads(payload)

    def metrics(self):
        status, _, payload = self.request("GET", "/metrics")
        check(status == 200, "/metrics status")
        values = {}
        for line in payload.decode().splitlines():
            if line.startswith("#"):
                check(re.match(r"# (HELP|TYPE) [a-z_]+ .+", line) is not None, "metrics comment: " + line)
                continue
            match = re.match(r'([a-z_]+(\{[a-z_]+="[^"]*"\})?) (\S+)$', line)
            check(match is not None, "metrics line is 'name{labels} value': " + line)
            values[match.group(1)] = float(match.group(3))
        return values

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.exit_code()

    def exit_code(self):
        """The server's exit code, once it has exited; a sanitizer's report on its stderr fails."""
        code = self.process.wait(timeout=30)
        self.reader.join(timeout=30)
        text = "".join(self.stderr)
        check("runtime error" not in text and "Sanitizer" not in text, "sanitizer report: " + text[-2000:])
        return code

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()

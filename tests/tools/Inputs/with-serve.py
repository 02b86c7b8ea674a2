#!/usr/bin/env python3
"""Runs a command against reel serve: usage with-serve.py REEL MODEL [SERVE FLAGS...] -- COMMAND...
Starts `REEL serve MODEL` on the CPU reference on a free port (--port 0) with SERVE FLAGS, runs
COMMAND with every @PORT@ in its arguments replaced by the port (its output passed through),
stops the server with SIGTERM and exits with COMMAND's status; 1 where the server does not
then exit 0."""
import subprocess
import sys

import reelserve

separator = sys.argv.index("--")
reel, model, flags = sys.argv[1], sys.argv[2], sys.argv[3:separator]
server = reelserve.Server(reel, model, *flags)
try:
    command = [argument.replace("@PORT@", str(server.port)) for argument in sys.argv[separator + 1:]]
    sys.stdout.flush()
    status = subprocess.run(command, timeout=120).returncode
    stopped = server.stop()
    if stopped != 0:
        reelserve.fail("reel serve exited %d: %s" % (stopped, "".join(server.stderr)[-2000:]))
finally:
    server.kill()
sys.exit(status)

#!/usr/bin/env python3
"""Runs `reel chat` with stdin on a pseudo-terminal (stdout a pipe) and prints its stdout with
newlines as \\n, so that a test sees the prompt marker `> ` that a terminal gets.

Usage: chat-tty.py INPUT REEL ARGS...   (INPUT: the lines to type, \\n-separated)
"""
import os
import pty
import subprocess
import sys

master, slave = pty.openpty()
reel = subprocess.Popen(sys.argv[2:], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
os.close(slave)
os.write(master, sys.argv[1].encode().decode("unicode_escape").encode())
out, _ = reel.communicate(timeout=60)
os.close(master)
print(out.decode().replace("\n", "\\n"))
sys.exit(reel.returncode)

#!/usr/bin/env python3
"""A stand-in for journald's native socket: receives datagrams of the
journal's native protocol (systemd's JOURNAL_NATIVE_PROTOCOL), decodes
each into its fields and appends it to OUT as one JSON object a line.

Usage: fake_journal.py SOCKET OUT
"""
import json
import os
import socket
import struct
import sys


def decode(data):
    fields = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            # KEY\n, a little-endian 64-bit size, the value, \n
            k = line
            (size,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[k.decode()] = v.decode(errors="replace")
    return fields


def main():
    path, out = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    with open(out, "a") as f:
        while True:
            data = s.recv(1 << 20)
            f.write(json.dumps(decode(data)) + "\n")
            f.flush()


main()

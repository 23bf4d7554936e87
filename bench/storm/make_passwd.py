#!/usr/bin/env python3
"""Writes a vigil/mosquitto password file for users dev-0..dev-(N-1) with passwords pw-i,
PBKDF2-HMAC-SHA512 in the $7$ format. Usage: make_passwd.py N ITERATIONS FILE"""
import base64
import hashlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor


def line(args):
    i, iterations = args
    salt = os.urandom(12)
    h = hashlib.pbkdf2_hmac("sha512", f"pw-{i}".encode(), salt, iterations)
    return f"dev-{i}:$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(h).decode()}\n"


if __name__ == "__main__":
    n, iterations, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    with ProcessPoolExecutor() as ex:
        lines = list(ex.map(line, [(i, iterations) for i in range(n)], chunksize=64))
    with open(path, "w") as f:
        f.writelines(lines)

#!/usr/bin/env python3
"""What Python's cp932 codec makes of every 1- and 2-byte sequence, for
Tests/ChatHooksCoreTests/CSVTests.swift: one line per input (the 256 single
bytes, then the 65,536 pairs, in order), the code points in hex separated by
spaces, or "-" when the codec refuses the input."""
import sys

out = []
inputs = [bytes([b]) for b in range(256)] + [bytes([a, b]) for a in range(256) for b in range(256)]
for seq in inputs:
    try:
        out.append(" ".join("%x" % ord(c) for c in seq.decode("cp932")))
    except UnicodeDecodeError:
        out.append("-")
sys.stdout.write("\n".join(out) + "\n")

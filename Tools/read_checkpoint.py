#!/usr/bin/env python3
"""Reads a Concept Learner checkpoint with Python's own `safetensors` reader (the format PyTorch
uses), prints one line per tensor, and checks the values against a reference file when given.

usage: read_checkpoint.py CHECKPOINT.safetensors [EXPECTED.json]
EXPECTED.json maps tensor names to the list of their values (as the Swift side saw them)."""
import json
import sys

from safetensors import safe_open
from safetensors.numpy import load_file


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    tensors = load_file(path)
    with safe_open(path, framework="numpy") as f:
        meta = f.metadata() or {}
    options = json.loads(meta["options"])
    print(f"{len(tensors)} tensors, step {meta['step']}, d_model {options['dModel']}")
    for name in sorted(tensors):
        t = tensors[name]
        print(f"{name} {t.dtype} {list(t.shape)}")
    if len(sys.argv) == 3:
        with open(sys.argv[2]) as fh:
            expected = json.load(fh)
        for name, values in expected.items():
            got = tensors[name].reshape(-1).tolist()
            if len(got) != len(values) or any(a != b for a, b in zip(got, values)):
                print(f"MISMATCH in {name}", file=sys.stderr)
                return 1
        print(f"values match for {len(expected)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())

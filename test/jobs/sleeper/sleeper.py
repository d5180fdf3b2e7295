"""Prints a numbered line every 0.2 s for --seconds, then optionally writes an output file."""
import argparse
import os
import time

p = argparse.ArgumentParser()
p.add_argument("--seconds", type=float, default=5)
p.add_argument("--out")
a = p.parse_args()

start = time.time()
i = 0
while time.time() - start < a.seconds:
    print(f"tick {i}", flush=True)
    i += 1
    time.sleep(0.2)
if a.out:
    with open(os.path.join(a.out, "done.txt"), "w") as f:
        f.write(f"{i} ticks\n")
print("finished", flush=True)

"""What a user waits for in `laplace-codec compress` and `decompress` of one Kodak image with
the default model, part by part, on a warm compilation cache.

    python benchmarks/cli_latency.py [--model NAME] [--image PATH] [--repeats 3]

Each measurement is a fresh Python process (as the command line is): first the two imports
alone (`import tensorflow`, `import jax, flax`), then the whole command, whose own lines name
its parts (TensorFlow import, model loading, network, range coding) and its total since the
process started. The wall time includes the process's exit (the command skips the
interpreter's teardown, which took about 1 s with TensorFlow and JAX loaded).
"Beyond the imports" is the total minus both imports, the figure the issue's 1 s target is
about. One untimed run of each command fills the compilation cache first. The last line is
JSON with the medians.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KODIM = os.path.join(REPO, "..", "shared", "data", "kodak", "kodim01.png")


def timed_import(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return float(done.stdout.strip().splitlines()[-1])


def run_cli(*args) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "laplace_codec.cli", *args],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"laplace-codec {' '.join(args)} failed:\n{done.stderr}")
    return time.perf_counter() - t, done.stdout


def parts(stdout: str) -> dict:
    out = {}
    for key, pattern in (("total", r"total ([\d.]+) s since"),
                         ("tensorflow", r"TensorFlow import ([\d.]+) s"),
                         ("loading", r"model loading ([\d.]+) s"),
                         ("network", r"network ([\d.]+) s"),
                         ("coding", r"range coding ([\d.]+) s")):
        match = re.search(pattern, stdout)
        if match:
            out[key] = float(match.group(1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="bundled model (default: the default)")
    parser.add_argument("--image", default=KODIM if os.path.exists(KODIM) else "sample:astronaut")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = ["--model", args.model] if args.model else []
    with tempfile.TemporaryDirectory() as tmp:
        lgc, png = os.path.join(tmp, "x.lgc"), os.path.join(tmp, "x.png")
        run_cli("compress", "-f", *model, args.image, lgc)  # warm the compilation cache
        run_cli("decompress", "-f", lgc, png)
        rows = {"import tensorflow": [], "import jax, flax": [], "compress": [],
                "decompress": []}
        details = {"compress": [], "decompress": []}
        for _ in range(args.repeats):
            rows["import tensorflow"].append(timed_import("import tensorflow"))
            rows["import jax, flax"].append(timed_import("import jax, flax.linen"))
            wall, out = run_cli("compress", "-f", *model, args.image, lgc)
            rows["compress"].append(wall)
            details["compress"].append(parts(out))
            wall, out = run_cli("decompress", "-f", lgc, png)
            rows["decompress"].append(wall)
            details["decompress"].append(parts(out))
    med = {k: statistics.median(v) for k, v in rows.items()}
    imports = med["import tensorflow"] + med["import jax, flax"]
    print(f"image {args.image}, {args.repeats} runs each (medians), warm compilation cache")
    for k in ("import tensorflow", "import jax, flax"):
        print(f"  {k:<18} {med[k]:6.2f} s")
    result = dict(med)
    for command in ("compress", "decompress"):
        d = {k: statistics.median(p[k] for p in details[command] if k in p)
             for k in ("total", "tensorflow", "loading", "network", "coding")
             if any(k in p for p in details[command])}
        beyond = med[command] - imports
        result[f"{command}_beyond_imports"] = beyond
        result[f"{command}_parts"] = d
        print(f"  {command:<18} {med[command]:6.2f} s wall; beyond the two imports "
              f"{beyond:.2f} s; its parts: " + ", ".join(f"{k} {v:.2f} s" for k, v in d.items()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

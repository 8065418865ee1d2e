"""Run time of each notebook, top to bottom with its own default parameters, on this machine.

    python benchmarks/notebooks.py [--only quickstart diffusion_decoder] [--save runs/notebooks]

Executes each notebook headlessly (nbclient, the test extra) as a reader would run it
(the bundled models, default images and step counts), prints its wall time, and ends with one
JSON line {"<name>_s": seconds, ...}. ``--save DIR`` writes the executed notebooks there
(the repository's copies keep the outputs of their last re-run on the bundled models).
tests/test_notebooks.py runs the same code on the tiny test models.
"""

import argparse
import json
import os
import pathlib
import sys
import time

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("quickstart", "entropy_model", "diffusion_decoder", "train_your_own")


def run_notebook(name: str, parameters: str | None = None, timeout_s: int = 3600):
    """Executes notebooks/NAME (e.g. "quickstart.ipynb") from the notebooks folder, with its
    cell tagged "parameters" replaced by ``parameters`` when given; returns (nb, seconds)."""
    import nbclient
    import nbformat

    path = NOTEBOOKS / name
    if not path.is_file():
        raise FileNotFoundError(f"no notebook {path}; the notebooks are {sorted(NAMES)}")
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"{name} needs exactly one cell tagged 'parameters', has {len(tagged)}")
    if parameters is not None:
        tagged[0].source = parameters
    t0 = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb, time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=list(NAMES), choices=NAMES)
    parser.add_argument("--save", help="folder for the executed notebooks")
    args = parser.parse_args()
    times = {}
    for name in args.only:
        nb, seconds = run_notebook(name + ".ipynb")
        times[f"{name}_s"] = round(seconds, 1)
        print(f"{name}.ipynb: {seconds:.1f} s", flush=True)
        if args.save:
            import nbformat

            os.makedirs(args.save, exist_ok=True)
            nbformat.write(nb, os.path.join(args.save, name + ".ipynb"))
    print(json.dumps(times))


if __name__ == "__main__":
    sys.exit(main())

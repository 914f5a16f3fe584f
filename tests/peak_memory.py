"""Run a Python program and write its peak resident memory (kB) to a file when it exits:

    python -m tests.peak_memory OUT PROGRAM [ARGS...]

What wait4() reports for a child (ru_maxrss) would include the test process's own memory
at the fork; VmHWM, read by the program itself, is the high-water mark of its own memory.
"""

import atexit
import runpy
import sys
from pathlib import Path


def main() -> None:
    out, program, *args = sys.argv[1:]

    def report() -> None:
        status = Path("/proc/self/status").read_text()
        peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
        Path(out).write_text(peak)

    atexit.register(report)
    sys.argv = [program, *args]
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()

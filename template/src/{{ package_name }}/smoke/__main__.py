"""`python -m <package>.smoke` (`make smoke`): the whole local stack end to end, stage by stage.

Exit status 0 when every stage passed; 1 when one failed (the message names the stage and its
log); every process a stage started is stopped either way.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from ..config import platform
from .runner import run_stages
from .stages import finish_warm_imports, prepare, project_stages


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smoke", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--list", action="store_true", help="list the stages and exit")
    args = parser.parse_args(argv)
    stages = project_stages()
    if args.list:
        for stage in stages:
            print(f"{stage.name:<14} {stage.description}")
        return 0
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up like Ctrl-C does
    current = platform()
    print(f"smoke: {current.project['name']} ({current.answers['use_case']}), local profile; logs in .local/logs")
    ctx = prepare(current)
    try:
        return run_stages(stages, ctx, sys.stdout)
    finally:
        finish_warm_imports(ctx)  # after an early failure: no import left running at exit


if __name__ == "__main__":
    raise SystemExit(main())

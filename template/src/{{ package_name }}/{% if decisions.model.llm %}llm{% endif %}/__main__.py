"""`python -m <package>.llm generate PROMPT [--url HOST:PORT] [--max-tokens N] [--temperature T]`
`python -m <package>.llm drift [--hours H]`

(make llm-generate, make llm-drift). The prompt is put to the model as a question (platform.yaml `llm.prompt`)
unless --raw. In process it streams the registry champion; with --url it streams from a Triton
server over gRPC (the local model or the cloud's vLLM backend: the same client).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

EXIT_DRIFT = 2


def check_drift(hours: float) -> int:
    """Print the PSI per column of the prompts served in the last `hours`; exit EXIT_DRIFT on drift."""
    from ..monitoring.text_drift import report_lines
    from .monitoring import check
    from .settings import load, resolve

    try:
        result = check(resolve(load().monitoring_dir), datetime.now(UTC) - timedelta(hours=hours))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(report_lines(result, "prompts")))
    return EXIT_DRIFT if result["drifted"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="stream an answer to PROMPT")
    generate.add_argument("prompt")
    generate.add_argument("--url", default=None, help="a Triton server's gRPC address instead of in-process")
    generate.add_argument("--raw", action="store_true", help="send PROMPT as it is, not as llm.prompt's question")
    generate.add_argument("--max-tokens", type=int, default=None)
    generate.add_argument("--temperature", type=float, default=None)
    drift = commands.add_parser("drift", help="PSI of the served prompts against the champion's reference")
    drift.add_argument("--hours", type=float, default=24.0, help="the window: prompts logged this recently")
    args = parser.parse_args(argv)
    if args.command == "drift":
        return check_drift(args.hours)

    from .settings import LlmConfigError, load

    try:
        llm = load()
    except LlmConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    prompt = args.prompt if args.raw else llm.prompt.format(question=args.prompt)
    overrides = {key: value for key, value in (("max_tokens", args.max_tokens), ("temperature", args.temperature))}
    overrides = {key: value for key, value in overrides.items() if value is not None}
    started = time.perf_counter()
    first: float | None = None

    def show(piece: str) -> None:
        nonlocal first
        first = first if first is not None else time.perf_counter() - started
        print(piece, end="", flush=True)

    if args.url:
        from .client import LlmClient, LlmError

        try:
            LlmClient.from_settings(url=args.url).stream(prompt, overrides, on_piece=show)
        except LlmError as error:
            print(f"\nerror: {error}", file=sys.stderr)
            return 1
    else:
        from ..lm import model
        from .steps import champion_folder
        from .streaming import stream

        with tempfile.TemporaryDirectory(prefix="llm-generate-") as tmp:
            folder = champion_folder(Path(tmp) / "champion")
            if folder is None:
                print(f"error: no champion for {llm.registered_model}; run `make llm-train` first", file=sys.stderr)
                return 1
            lm = model.load(folder)
        for piece in stream(lm, prompt, llm.sampling.model_copy(update=overrides)):
            show(piece)
    total = time.perf_counter() - started
    ttft = f"{first * 1000:.0f} ms" if first is not None else "no text"
    print(f"\n(first piece after {ttft}, {total:.2f} s in all)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

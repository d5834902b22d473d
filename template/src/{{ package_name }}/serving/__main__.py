"""`python -m <package>.serving build|serve|stop|status` (the make targets call these), `predict` where
the served model takes feature rows (client.py), plus the serving pattern's own command: `worker`
(batch) or `edge-export` (edge)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from .errors import ServingError
from .settings import ServingSettings

# Modules of one serving pattern, rendered only into projects of that pattern; each adds a command.
PATTERN_MODULES = (".batch", ".edge")


def pattern_modules() -> list[ModuleType]:
    """The pattern modules this project holds."""
    names = [name for name in PATTERN_MODULES if importlib.util.find_spec(name, __package__) is not None]
    return [importlib.import_module(name, __package__) for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="serving", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the Triton model repository from the champion")
    build.add_argument("--model-uri", default=None, help="models:/<name>@<alias> (default: platform.yaml)")
    build.add_argument("--profile", choices=["local", "cloud", "cluster-cpu"], default="local")
    build.add_argument("--out", type=Path, default=None)
    serve = commands.add_parser("serve", help="start the local Triton server in the background")
    serve.add_argument("--repository", type=Path, default=None)
    serve.add_argument("--build-if-missing", action="store_true", help="build the repository first when it is missing")
    commands.add_parser("stop", help="stop the server `serve` started")
    commands.add_parser("status", help="is the local server up, and on which ports")
    # client.py (TritonClient) is where the served model takes feature rows; vision has vision/client.py
    if importlib.util.find_spec(".client", __package__) is not None:
        predict = commands.add_parser(
            "predict", help="send JSON rows ([[...], ...] or [{feature: value}, ...]) from stdin"
        )
        predict.add_argument("--protocol", choices=["http", "grpc"], default=None)
    patterns = {module.COMMAND: module for module in pattern_modules()}
    for command, module in patterns.items():
        module.add_arguments(commands.add_parser(command, help=module.COMMAND_HELP))
    args = parser.parse_args(argv)
    settings = ServingSettings.from_platform()
    try:
        if args.command in patterns:
            return int(patterns[args.command].run_command(args, settings))
        return run(args, settings)
    except ServingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def build(
    settings: ServingSettings, *, model_uri: str | None = None, out: Path | None = None, profile: str = "local"
) -> Path:
    """The model repository of this project's model: the champion's core (+ task) models, or for a
    PyTorch framework model (src/<package>/vision/) the detector's ensemble."""
    if importlib.util.find_spec(f"{__package__.rsplit('.', 1)[0]}.vision") is not None:
        vision: ModuleType = importlib.import_module("..vision.repository", package=__package__)
        path: Path = vision.build_project_repository(settings, model_uri=model_uri, out=out, profile=profile)
        return path
    rows: ModuleType = importlib.import_module(".repository", package=__package__)  # feature-row projects only
    path = rows.build_repository(settings, model_uri=model_uri, out=out, profile=profile)
    root = __package__.rsplit(".", 1)[0]
    if profile == "local" and importlib.util.find_spec(f"{root}.rag") is not None:
        # search/RAG projects also serve the published vector index (src/<package>/rag/serving.py)
        rag: ModuleType = importlib.import_module("..rag.serving", package=__package__)
        staged = rag.stage_project_model(path)
        print(f"RAG model: {staged}" if staged else "RAG model: no published index yet (make rag-ingest)")
    if profile == "local" and importlib.util.find_spec(f"{root}.llm") is not None:
        # text-generation projects also serve the champion language model with the vLLM backend's
        # contract (src/<package>/llm/serving.py); the cloud serves it with the vLLM backend itself
        llm: ModuleType = importlib.import_module("..llm.serving", package=__package__)
        staged = llm.stage_project_model(path)
        print(f"Language model: {staged}" if staged else "Language model: no champion yet (make llm-train)")
    return path


def run(args: argparse.Namespace, settings: ServingSettings) -> int:
    if args.command == "build":
        path = build(settings, model_uri=args.model_uri, out=args.out, profile=args.profile)
        print(f"model repository ({args.profile}): {path}")
    elif args.command == "serve":
        from .server import LocalTriton, read_record

        record = read_record(settings.state_dir)
        if record is not None:
            from .server import is_running

            if is_running(int(record["pid"])):
                print(f"already running (pid {record['pid']}, ports {record['ports']}); make serve-stop first")
                return 0
        repository = args.repository or settings.repository
        if args.build_if_missing and not repository.is_dir():
            print(f"{repository} is missing: building it from {settings.model_uri}")
            build(settings, out=repository)
        server = LocalTriton(
            repository,
            state_dir=settings.state_dir,
            host=settings.host,
            http_port=settings.ports["http"],
            grpc_port=settings.ports["grpc"],
            metrics_port=settings.ports["metrics"],
            startup_timeout=settings.startup_timeout_seconds,
            allocator=settings.allocator,
            summary_quantiles=settings.latency_summary_quantiles,
        ).start(detach=True)
        print(f"Triton ready: http {server.http_url}  grpc {server.grpc_url}  metrics {server.metrics_url}")
        hint = " (jemalloc not installed: apt-get install libjemalloc2)"
        print(f"malloc: {server.allocator}" + (hint if server.allocator != settings.allocator else ""))
        print(f"log: {server.log_file}; stop with `make serve-stop`")
    elif args.command == "stop":
        from .server import stop_recorded

        print("stopped" if stop_recorded(settings.state_dir) else "no server was running")
    elif args.command == "status":
        from .server import is_running, read_record

        record = read_record(settings.state_dir)
        running = record is not None and is_running(int(record["pid"]))
        print(json.dumps({"running": running, **(record or {})}, indent=2))
        return 0 if running else 3
    elif args.command == "predict":
        rows = json.load(sys.stdin)
        kind = args.protocol or settings.client.protocol
        row_client = importlib.import_module(".client", __package__)  # offered only where client.py is
        client = row_client.TritonClient.from_settings(settings, protocol=kind, url=settings.running_url(kind))
        if rows and isinstance(rows[0], dict):
            import pandas as pd

            scores = client.predict_many(pd.DataFrame(rows))
        else:
            scores = client.predict_many(rows)
        print(json.dumps(scores.tolist()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

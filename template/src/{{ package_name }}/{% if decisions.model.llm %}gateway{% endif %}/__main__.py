"""`python -m <package>.gateway serve | route | deployments | health`

serve [--host H] [--port P] [--workers N]   the gateway (make gateway-serve); gateway.host/port by default
route "a prompt" [--model auto] [--max-tokens N]   which group the rules send a request to (no server)
deployments                                  which deployments are on in this profile, and why not
health [--url http://H:P]                    exit 1, saying why, unless the gateway answers GET /health
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve /v1/chat/completions")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=1, help="processes (they share Redis: limits, cache, budget)")
    route = commands.add_parser("route", help="the group a prompt goes to")
    route.add_argument("prompt")
    route.add_argument("--model", default=None, help="default: routing.auto_model")
    route.add_argument("--max-tokens", type=int, default=None)
    commands.add_parser("deployments", help="the deployments that are on, and why the others are off")
    health = commands.add_parser("health", help="is the gateway up (its redis answers, every group has a deployment)")
    health.add_argument("--url", default=None, help="default: gateway.host and gateway.port")
    args = parser.parse_args(argv)

    from .settings import GatewayConfigError, enabled, groups_on, load, profile

    try:
        settings = load()
    except GatewayConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.command == "health":
        from .process import health_problem

        url = args.url or settings.url
        problem = health_problem(url)
        print(f"error: {problem}" if problem else f"{url}: healthy", file=sys.stderr if problem else sys.stdout)
        return 1 if problem else 0
    if args.command == "route":
        from .routing import RoutingError, choose, features

        body = {
            "model": args.model or settings.routing.auto_model,
            "messages": [{"role": "user", "content": args.prompt}],
        }
        if args.max_tokens:
            body["max_tokens"] = args.max_tokens
        groups = groups_on(settings, profile(), os.environ)
        try:
            chosen = choose(settings.routing, str(body["model"]), features(body), groups)
        except RoutingError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"{chosen.group}  ({chosen.reason})")
        return 0
    if args.command == "deployments":
        for group, members in settings.groups.items():
            for deployment in members:
                on, why = enabled(deployment, profile(), os.environ)
                price = settings.prices[deployment.price]
                print(
                    f"{group:8} {deployment.name:18} {deployment.provider}/{deployment.model:22} "
                    f"${price.input_per_1k:g}/${price.output_per_1k:g} per 1K in/out  {'on' if on else 'off: ' + why}"
                )
        return 0

    import uvicorn

    host, port = args.host or settings.host, args.port if args.port is not None else settings.port
    if args.workers > 1:
        uvicorn.run(f"{__package__}.app:create_app", factory=True, host=host, port=port, workers=args.workers)
        return 0
    from .app import create_app

    try:
        app = create_app(settings)
    except GatewayConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=host, port=port)
    return 0


if __name__ == "__main__":
    sys.exit(main())

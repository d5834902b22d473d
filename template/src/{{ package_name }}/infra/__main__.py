"""`python -m <package>.infra {plan,apply,destroy,summary,check,identities} --env dev|prod`.

plan     terraform init + plan of infra/stack with infra/envs/<env> (plan file infra/envs/<env>/terraform.tfplan)
         and the cost summary
apply    plan, the cost summary, a confirmation, then apply exactly that plan
destroy  a confirmation (type the environment's name), then terraform destroy
summary  the cost summary only (no terraform)
check    is terraform installed and new enough, and are the required variables set?
identities  write the cloud identities (terraform output workload_identities) into the ServiceAccounts
         of the environment (deploy/k8s/overlays/<env>, deploy/airflow/identity-<env>.yaml);
         --outputs FILE reads a saved `terraform output -json` instead; --check only verifies them
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..config import ConfigError, Platform, load
from . import identities
from .cost import summary
from .terraform import InfraError, Runner, check_version, find_terraform, format_version, installed_version, missing_env


def environment_dirs(platform: Platform, env: str) -> tuple[Path, Path]:
    """The one root module (infra/stack) and the environment's folder (variables, state settings)."""
    infra = platform.settings.infra
    if env not in infra.environments:
        raise InfraError(f"unknown environment {env!r}: this project has {', '.join(infra.environments)} (ENV=...)")
    envs = platform.path.parent / infra.envs_dir
    root, env_dir = envs.parent / "stack", envs / env
    for folder in (root, env_dir):
        if not folder.is_dir():
            raise InfraError(f"{folder} does not exist; run `copier update` to render it")
    return root, env_dir


def preflight(platform: Platform) -> str:
    """terraform found and new enough, required variables set; returns the binary's path."""
    infra = platform.settings.infra
    binary = find_terraform()
    check_version(installed_version(binary), infra.terraform_min_version)
    missing = missing_env(infra.required_env)
    if missing:
        raise InfraError(f"set {', '.join(missing)} first (account-specific values stay out of git)")
    return binary


def confirm(question: str, expected: str, ask: Callable[[str], str]) -> bool:
    return ask(f"{question} Type '{expected}' to go on: ").strip() == expected


def run(args: argparse.Namespace, platform: Platform, ask: Callable[[str], str] = input) -> int:
    if args.command == "summary":
        print(summary(platform, args.env))
        return 0
    if args.command == "identities":
        return run_identities(args, platform)
    binary = preflight(platform)
    if args.command == "check":
        print(f"terraform {format_version(installed_version(binary))} at {binary}: OK")
        return 0
    runner = Runner(*environment_dirs(platform, args.env), binary)
    runner.init()
    if args.command == "destroy":
        if not (args.yes or confirm(f"Destroy every resource of {args.env}?", args.env, ask)):
            print("destroy cancelled")
            return 1
        changes = runner.plan(destroy=True)
        if changes:
            runner.apply()
        return 0
    changes = runner.plan()
    print()
    print(summary(platform, args.env))
    if args.command == "plan" or not changes:
        return 0
    if not (args.yes or confirm(f"Apply this plan to {args.env}?", "yes", ask)):
        print("apply cancelled")
        return 1
    runner.apply()
    return 0


def run_identities(args: argparse.Namespace, platform: Platform) -> int:
    environment_dirs(platform, args.env)  # a known environment
    if args.check:
        problems = identities.check(platform, args.env)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            print(
                f"error: the {args.env} workloads have no cloud identity yet: run `make identities ENV={args.env}`",
                file=sys.stderr,
            )
            return 1
        print(f"{args.env}: every workload's ServiceAccount is bound to its cloud identity")
        return 0
    if args.outputs:
        document = identities.load_outputs(Path(args.outputs))
    else:
        # Reading outputs needs the state only: no TF_VAR_* account variables.
        binary = find_terraform()
        check_version(installed_version(binary), platform.settings.infra.terraform_min_version)
        runner = Runner(*environment_dirs(platform, args.env), binary)
        runner.init()
        document = runner.outputs()
    for path in identities.write(platform, args.env, document):
        print(f"wrote {path.relative_to(platform.path.parent)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("command", choices=("plan", "apply", "destroy", "summary", "check", "identities"))
    parser.add_argument("--env", default="dev", help="environment: dev or prod (default dev)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (CI)")
    parser.add_argument("--outputs", help="identities: a saved `terraform output -json` document instead of the state")
    parser.add_argument("--check", action="store_true", help="identities: only check that the files are in place")
    args = parser.parse_args(argv)
    try:
        platform = load()
        return run(args, platform)
    except (ConfigError, InfraError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

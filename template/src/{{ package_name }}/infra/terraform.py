"""Find terraform, check its version, and run init / plan / apply / destroy in an environment root."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INSTALL_HINT = "install it from https://developer.hashicorp.com/terraform/install (or `tfenv install`)"
PLAN_FILE = "terraform.tfplan"  # git-ignored (*.tfplan)


class InfraError(RuntimeError):
    """Something the user must fix before Terraform can run; the message says what."""


def parse_version(text: str) -> tuple[int, int, int]:
    """`1.11.4`, `v1.10.0-beta1` or `Terraform v1.9.8 on linux_amd64` -> (major, minor, patch)."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        raise InfraError(f"cannot read a version from {text!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def format_version(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def find_terraform(binary: str | None = None) -> str:
    """Path of the terraform binary ($TERRAFORM_BIN, else PATH); a clear error when there is none."""
    name = binary or os.environ.get("TERRAFORM_BIN") or "terraform"
    path = shutil.which(name)
    if path is None:
        raise InfraError(f"terraform was not found (looked for {name!r} on PATH): {INSTALL_HINT}")
    return path


def installed_version(binary: str) -> tuple[int, int, int]:
    """The version `terraform version -json` reports (plain `terraform version` as a fallback)."""
    try:
        result = subprocess.run([binary, "version", "-json"], capture_output=True, text=True, timeout=60)
    except OSError as error:
        raise InfraError(f"cannot run {binary}: {error}") from error
    if result.returncode == 0:
        try:
            return parse_version(str(json.loads(result.stdout)["terraform_version"]))
        except (ValueError, KeyError):
            pass
    return parse_version(result.stdout or result.stderr)


def check_version(found: tuple[int, int, int], required: str) -> None:
    """Raise when `found` is older than `required` (e.g. "1.10.0")."""
    minimum = parse_version(required)
    if found < minimum:
        raise InfraError(
            f"terraform {format_version(found)} is too old: this project needs >= {format_version(minimum)}; "
            f"{INSTALL_HINT}"
        )


def missing_env(names: list[str], environ: dict[str, str] | None = None) -> list[str]:
    """The required environment variables that are unset or empty."""
    source = os.environ if environ is None else environ
    return [name for name in names if not source.get(name, "").strip()]


def _python_terraform() -> Any:
    try:
        return importlib.import_module("python_terraform")
    except ImportError as error:
        raise InfraError(
            "python-terraform is not installed: run `uv sync --group infra` (make plan does it for you)"
        ) from error


@dataclass
class Runner:
    """Terraform for one environment: the one root module (infra/stack) with the environment's
    variables, state settings and working data (infra/envs/<env>), through python-terraform.

    TF_DATA_DIR gives each environment its own `.terraform` folder (backend and providers), so
    switching ENV never plans against the other environment's state and needs no `init -reconfigure`.
    """

    root: Path
    env_dir: Path
    binary: str

    def _terraform(self) -> Any:
        module = _python_terraform()
        return module.Terraform(working_dir=str(self.root), terraform_bin_path=self.binary)

    def _run(self, command: str, *args: str, **options: Any) -> int:
        code, _ = self._call(command, *args, capture=False, **options)
        return code

    def _call(self, command: str, *args: str, capture: bool, **options: Any) -> tuple[int, str]:
        module = _python_terraform()
        flags = {key: module.IsFlagged if value is True else value for key, value in options.items()}
        previous = os.environ.get("TF_DATA_DIR")
        os.environ["TF_DATA_DIR"] = str(self.env_dir / ".terraform")
        try:
            code, out, _ = self._terraform().cmd(command, *args, capture_output=capture, no_color=None, **flags)
        finally:
            if previous is None:
                os.environ.pop("TF_DATA_DIR", None)
            else:
                os.environ["TF_DATA_DIR"] = previous
        return int(code), str(out or "")

    def backend_files(self) -> list[str]:
        """The environment's state settings, then backend.hcl (yours, e.g. from the 0.7.0 upgrade), which wins."""
        files = (self.env_dir / "backend.tfbackend", self.env_dir / "backend.hcl")
        return [str(path) for path in files if path.is_file()]

    def var_files(self) -> list[str]:
        """terraform.tfvars.json (the engine's), then your *.auto.tfvars(.json) files of the environment,
        which win: Terraform loads auto files only from the root, so they are passed explicitly."""
        own = sorted(self.env_dir.glob("*.auto.tfvars")) + sorted(self.env_dir.glob("*.auto.tfvars.json"))
        return [str(path) for path in (self.env_dir / "terraform.tfvars.json", *own) if path.is_file()]

    @property
    def plan_file(self) -> str:
        return str(self.env_dir / PLAN_FILE)

    def init(self) -> None:
        options: dict[str, Any] = {"input": False, "backend_config": self.backend_files()}
        if self._run("init", **options) != 0:
            raise InfraError(f"terraform init failed in {self.root} for {self.env_dir.name} (see the output above)")

    def plan(self, *, destroy: bool = False) -> bool:
        """Write the plan file; True when it changes something."""
        code = self._run(
            "plan",
            input=False,
            var_file=self.var_files(),
            out=self.plan_file,
            detailed_exitcode=True,
            destroy=destroy or None,
        )
        if code == 1:
            raise InfraError(f"terraform plan failed in {self.root} for {self.env_dir.name} (see the output above)")
        return code == 2

    def apply(self) -> None:
        """Apply the plan file written by plan() (what was reviewed is what runs)."""
        if self._run("apply", self.plan_file, input=False) != 0:
            raise InfraError(f"terraform apply failed in {self.root} for {self.env_dir.name} (see the output above)")

    def outputs(self) -> dict[str, Any]:
        """`terraform output -json` of the environment's state (after init)."""
        code, text = self._call("output", capture=True, json=True)
        if code != 0:
            raise InfraError(f"terraform output failed in {self.root} for {self.env_dir.name} (see the output above)")
        try:
            document = json.loads(text or "{}")
        except ValueError as error:
            raise InfraError(f"terraform output -json did not print JSON: {error}") from error
        return document if isinstance(document, dict) else {}

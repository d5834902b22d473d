"""Terraform: the module library (fmt, offline `terraform test`, structure, tag classification) and
each cloud's rendered `infra/` (HCL parses, tfvars match platform.yaml, checkov with the cost-tag
policy, the CI workflow). No provider can be downloaded here, so nothing below runs
`terraform validate` or `plan`; the generated project's CI does (terraform.yml / .gitlab-ci.yml).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from conftest import render_project

REPO = Path(__file__).resolve().parents[1]
MODULES = REPO / "terraform" / "modules"
POLICIES = REPO / "terraform" / "policies"
PROVIDER_FREE = ("cost_tags",)
CLOUD_MODULES = ("aws", "gcp", "azure")
TERRAFORM = shutil.which("terraform")
CHECKOV_VERSION = "3.3.30"
COST_TAG_CHECK = "CKV_MLOPS_1"

# One rendered project per cloud, covering both CI providers, API hosting and an environment subset.
CLOUD_ANSWERS: dict[str, dict[str, Any]] = {
    "aws": {"use_case": "tabular", "cloud": "aws"},
    "gcp": {"use_case": "image_classification", "cloud": "gcp", "tune": True, "ci_provider": "gitlab"},
    "azure": {
        "use_case": "text_generation",
        "cloud": "azure",
        "tune": True,
        "hosting": "api",
        "data_sensitivity": "pii",
        "monthly_requests": 20000,
        "peak_rps": 2,
        "latency_p95_ms": 3000,
        "environments": ["prod"],
    },
}

needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")


def tf_env() -> dict[str, str]:
    return {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}


def policy_data() -> Any:
    spec = importlib.util.spec_from_file_location("cost_tags_data", POLICIES / "cost_tags_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _unquote(value: Any) -> Any:
    """python-hcl2 >= 7 keeps the quotes of labels and strings ("aws_s3_bucket"); drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {(k.strip('"') if isinstance(k, str) else k): _unquote(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def parse_tf(folder: Path) -> dict[str, Any]:
    """Every .tf file under folder, parsed with python-hcl2: {relative path: parsed}."""
    parsed = {}
    for path in sorted(folder.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        with path.open(encoding="utf-8") as handle:
            parsed[str(path.relative_to(folder))] = _unquote(hcl2.load(handle))
    return parsed


def resource_types(parsed: dict[str, Any]) -> set[str]:
    types = set()
    for document in parsed.values():
        for block in document.get("resource", []):
            types |= set(block)
    return types


def checkov_command() -> list[str]:
    """checkov in its own environment: its `hcl2` (bc-python-hcl2) and python-hcl2 share a module name,
    so the checkov in this project's environment cannot import; uvx installs the locked version apart."""
    uvx = shutil.which("uvx")
    if uvx is None:
        pytest.fail("checkov runs through uvx (pip install uv): the dev environment's checkov cannot import hcl2")
    return [uvx, "--from", f"checkov=={CHECKOV_VERSION}", "checkov"]


def run_checkov(folder: Path) -> dict[str, Any]:
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        [
            *checkov_command(),
            "-d",
            str(folder),
            "--framework",
            "terraform",
            "--compact",  # not --quiet: the JSON must list the passed checks too
            "--skip-download",
            "-o",
            "json",
            "--external-checks-dir",
            str(POLICIES),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.stdout.strip(), f"checkov printed nothing (exit {result.returncode}):\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    merged: dict[str, Any] = {"failed": [], "passed": [], "skipped": [], "parsing_errors": 0}
    for item in reports:
        results = item.get("results", {})
        merged["failed"] += results.get("failed_checks", [])
        merged["passed"] += results.get("passed_checks", [])
        merged["skipped"] += results.get("skipped_checks", [])
        merged["parsing_errors"] += item.get("summary", {}).get("parsing_errors", 0)
    return merged


# ---------------------------------------------------------------- the module library


def test_modules_have_the_standard_files() -> None:
    for module in (*PROVIDER_FREE, *CLOUD_MODULES):
        folder = MODULES / module
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (folder / name).is_file(), f"{module}: {name} is missing"
        assert list((folder / "tests").glob("*.tftest.hcl")), f"{module}: no tests/*.tftest.hcl"


@needs_terraform
def test_fmt() -> None:
    result = subprocess.run(
        [TERRAFORM or "terraform", "fmt", "-check", "-recursive", "-diff", str(REPO / "terraform")],
        capture_output=True,
        text=True,
        env=tf_env(),
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"


@needs_terraform
@pytest.mark.parametrize("module", PROVIDER_FREE)
def test_provider_free_module_tests_pass_offline(module: str, tmp_path: Path) -> None:
    work = tmp_path / module
    shutil.copytree(MODULES / module, work)
    for args in (["init", "-input=false", "-no-color"], ["test", "-no-color"]):
        result = subprocess.run(
            [TERRAFORM or "terraform", *args], cwd=work, capture_output=True, text=True, env=tf_env()
        )
        assert result.returncode == 0, f"terraform {args[0]} failed:\n{result.stdout}\n{result.stderr}"
    summary = re.search(r"(\d+) passed, (\d+) failed", result.stdout)
    assert summary and int(summary.group(1)) >= 5 and summary.group(2) == "0", result.stdout
    assert "expect_failures" in "".join(p.read_text() for p in (work / "tests").glob("*.tftest.hcl")), (
        "the tests must include rejected inputs"
    )


def test_every_resource_type_is_classified_for_the_tag_policy() -> None:
    data = policy_data()
    used = set()
    for module in CLOUD_MODULES:
        used |= resource_types(parse_tf(MODULES / module))
    unknown = sorted(used - set(data.TAGGABLE) - set(data.NOT_TAGGABLE))
    assert not unknown, f"classify in terraform/policies/cost_tags_data.py (TAGGABLE or NOT_TAGGABLE): {unknown}"
    assert not set(data.TAGGABLE) & set(data.NOT_TAGGABLE)
    assert data.REQUIRED_KEYS == ("project", "environment", "owner", "cost-center", "managed-by", "model")


def test_gpu_node_pools_use_the_sizing_and_its_taint() -> None:
    """Each cloud module takes the GPU pool's taint/labels/min/max as inputs (the engine's decided pool)."""
    expectations = {
        "aws": ("aws_eks_node_group", "gpu", ["taint", "scaling_config", "labels"]),
        "gcp": ("google_container_node_pool", "this", ["autoscaling", "node_config"]),
        "azure": (
            "azurerm_kubernetes_cluster_node_pool",
            "gpu",
            ["node_taints", "min_count", "max_count", "node_labels"],
        ),
    }
    for cloud, (rtype, name, keys) in expectations.items():
        text = "\n".join(p.read_text(encoding="utf-8") for p in (MODULES / cloud).glob("*.tf"))
        parsed = parse_tf(MODULES / cloud)
        blocks = [
            b[rtype][name] for doc in parsed.values() for b in doc.get("resource", []) if name in b.get(rtype, {})
        ]
        assert blocks, f"{cloud}: no {rtype}.{name}"
        for key in keys:
            assert key in blocks[0], f"{cloud}: {rtype}.{name} sets no {key}"
        assert "var.gpu_node_pool.min_nodes" in text and "var.gpu_node_pool.max_nodes" in text
        assert "var.gpu_node_pool.taint" in text and "var.gpu_node_pool.labels" in text


def test_budgets_alert_at_80_and_100_percent() -> None:
    for cloud in CLOUD_MODULES:
        text = (MODULES / cloud / "budget.tf").read_text(encoding="utf-8")
        assert "monthly_budget_usd" in text
        assert re.search(r"toset\(\[0?\.?8\d?,\s*1(\.0)?\]\)|toset\(\[80,\s*100\]\)", text), f"{cloud}: thresholds"


# ---------------------------------------------------------------- rendered projects, per cloud


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {
        cloud: render_project(tmp_path_factory.mktemp(f"tf-{cloud}"), **answers)
        for cloud, answers in CLOUD_ANSWERS.items()
    }


@pytest.fixture(scope="module")
def checkov_reports(projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One checkov run (its start-up is the slow part) over every cloud's rendered infra/ and an
    untagged probe, side by side in one folder; the results are split by top folder."""
    scan = tmp_path_factory.mktemp("checkov")
    for cloud, project in projects.items():
        shutil.copytree(project / "infra", scan / cloud)
    probe = scan / "probe"
    probe.mkdir()
    (probe / "main.tf").write_text(
        'resource "aws_s3_bucket" "untagged" {\n  bucket = "x"\n}\n'
        'resource "google_storage_bucket" "partly" {\n  name = "x"\n  location = "EU"\n'
        '  labels = { project = "p", owner = "o" }\n}\n'
        'resource "azurerm_resource_group" "tagged" {\n  name = "x"\n  location = "eastus"\n'
        '  tags = { project = "p", environment = "dev", owner = "o", "cost-center" = "c", "managed-by" = "t",'
        ' model = "m" }\n}\n',
        encoding="utf-8",
    )
    report = run_checkov(scan)
    split: dict[str, Any] = {
        name: {"failed": [], "passed": [], "skipped": [], "parsing_errors": report["parsing_errors"]}
        for name in (*projects, "probe")
    }
    for outcome in ("failed", "passed", "skipped"):
        for check in report[outcome]:
            top = check["file_path"].lstrip("/").split("/")[0]
            split[top][outcome].append(check)
    return split


@pytest.mark.parametrize("cloud", CLOUD_MODULES)
def test_rendered_infra_parses_and_holds_only_what_the_answers_ask(cloud: str, projects: dict[str, Path]) -> None:
    project = projects[cloud]
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    environments = platform["project"]["environments"]
    parsed = parse_tf(project / "infra")
    assert parsed, "no .tf files rendered"
    assert sorted(p.name for p in (project / "infra" / "envs").iterdir()) == sorted(environments)
    assert sorted(p.name for p in (project / "infra" / "modules").iterdir()) == sorted([*PROVIDER_FREE, cloud])
    # One root module; an environment holds only its variables and state settings.
    assert sorted(path.parent.name for path in (project / "infra").glob("*/main.tf")) == ["stack"]
    for env in environments:
        assert sorted(p.name for p in (project / "infra" / "envs" / env).iterdir()) == [
            "backend.tfbackend",
            "terraform.tfvars.json",
        ]
        backend_file = project / "infra" / "envs" / env / "backend.tfbackend"
        settings = _unquote(hcl2.loads(backend_file.read_text(encoding="utf-8")))
        state = platform["decisions"]["names"]["environments"][env]["state"]
        assert {key: value for key, value in settings.items() if key in state} == state
    main = parsed["stack/main.tf"]
    modules = {name: block for entry in main["module"] for name, block in entry.items()}
    assert modules["platform"]["source"] == f"../modules/{cloud}"
    backend = parsed["stack/backend.tf"]["terraform"][0]["backend"][0]
    assert set(backend) == {{"aws": "s3", "gcp": "gcs", "azure": "azurerm"}[cloud]}
    outputs = {name for entry in parsed["stack/outputs.tf"]["output"] for name in entry}
    assert {
        "cluster_endpoint",
        "artifact_bucket",
        "postgres_endpoint",
        "postgres_secret_ref",
        "redis_endpoint",
        "registry_url",
        "gpu_node_pool",
    } <= outputs
    assert not any("password" in name or name.endswith("_key") for name in outputs)


@pytest.mark.parametrize("cloud", CLOUD_MODULES)
def test_tfvars_carry_the_engine_decisions(cloud: str, projects: dict[str, Path]) -> None:
    project = projects[cloud]
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    decisions = platform["decisions"]
    for env in platform["project"]["environments"]:
        tfvars = json.loads((project / "infra" / "envs" / env / "terraform.tfvars.json").read_text(encoding="utf-8"))
        pool = decisions["gpu"]["environments"][env]
        assert tfvars["environment"] == env
        assert tfvars["monthly_budget_usd"] == decisions["cost"]["environments"][env]["total"]
        # Terraform provisions the decided pool: no sizing of its own
        assert tfvars["gpu_pool"] == {
            **{k: pool[k] for k in ("instance_type", "accelerator", "gpus_per_node", "min_nodes", "max_nodes")},
            "taint": decisions["gpu"]["taint"],
            "labels": decisions["gpu"]["labels"],
        }
        assert (tfvars["owner"], tfvars["cost_center"]) == (
            platform["project"]["owner"],
            platform["project"]["cost_center"],
        )


@needs_terraform
def test_rendered_infra_is_formatted(projects: dict[str, Path]) -> None:
    for project in projects.values():
        result = subprocess.run(
            [TERRAFORM or "terraform", "fmt", "-check", "-recursive", "-diff", "infra"],
            cwd=project,
            capture_output=True,
            text=True,
            env=tf_env(),
        )
        assert result.returncode == 0, f"{project}: terraform fmt would change:\n{result.stdout}"


@pytest.mark.parametrize("cloud", CLOUD_MODULES)
def test_checkov_passes_with_the_cost_tag_policy(cloud: str, checkov_reports: dict[str, Any]) -> None:
    report = checkov_reports[cloud]
    assert report["parsing_errors"] == 0
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}" for c in report["failed"]]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    tag_checks = [c for c in report["passed"] if c["check_id"] == COST_TAG_CHECK]
    assert len(tag_checks) >= 5, f"the cost-tag policy ran on only {len(tag_checks)} resources"
    for skipped in report["skipped"]:
        assert skipped["check_id"] != COST_TAG_CHECK, f"the cost-tag policy may not be skipped: {skipped['resource']}"
        reason = (skipped.get("check_result") or {}).get("suppress_comment") or ""
        assert len(reason) > 20, f"{skipped['check_id']} on {skipped['resource']} is skipped without a justification"


def test_cost_tag_policy_fails_untagged_resources(checkov_reports: dict[str, Any]) -> None:
    report = checkov_reports["probe"]
    failed = {c["resource"] for c in report["failed"] if c["check_id"] == COST_TAG_CHECK}
    passed = {c["resource"] for c in report["passed"] if c["check_id"] == COST_TAG_CHECK}
    assert failed == {"aws_s3_bucket.untagged", "google_storage_bucket.partly"}
    assert passed == {"azurerm_resource_group.tagged"}


def test_a_project_runs_the_cost_tag_policy_itself(projects: dict[str, Path], tmp_path: Path) -> None:
    """`make tf-policy` (the project's CI runs it): checkov at the suite's version with the project's
    copy of the policy passes on the render, and fails on a resource that lost cost tags, naming them."""
    project = tmp_path / "project"
    shutil.copytree(projects["aws"], project)
    assert f"CHECKOV_VERSION = {CHECKOV_VERSION}\n" in (project / "mk" / "infra.mk").read_text(encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    passed = subprocess.run(["make", "tf-policy"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert passed.returncode == 0, passed.stdout[-3000:] + passed.stderr[-3000:]
    counts = re.search(r"Passed checks: (\d+), Failed checks: 0", passed.stdout)
    assert counts and int(counts[1]) >= 5, passed.stdout[-3000:]
    storage = project / "infra" / "modules" / "aws" / "storage.tf"
    text = storage.read_text(encoding="utf-8")
    assert "tags          = var.tags" in text
    storage.write_text(
        text.replace("tags          = var.tags", 'tags          = { project = "x" }', 1), encoding="utf-8"
    )
    failed = subprocess.run(["make", "tf-policy"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert failed.returncode != 0, failed.stdout[-3000:]
    assert "missing cost tags: environment, owner, cost-center, managed-by, model" in failed.stdout


def test_github_terraform_workflow_passes_actionlint(projects: dict[str, Path]) -> None:
    workflow = projects["aws"] / ".github" / "workflows" / "terraform.yml"
    assert workflow.is_file()
    assert not (projects["gcp"] / ".github").exists(), "a GitLab project must not get GitHub workflows"
    actionlint = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    result = subprocess.run([actionlint, str(workflow)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = workflow.read_text(encoding="utf-8")
    for action in re.findall(r"uses:\s*(\S+)", text):
        assert re.search(r"@v\d+\.\d+\.\d+$", action), f"{action} is not pinned to a version"
    assert "id-token: write" in text and "terraform validate" in text and "terraform plan" in text
    assert "run: make tf-policy" in text


def test_gitlab_terraform_jobs_render(projects: dict[str, Path]) -> None:
    ci = yaml.safe_load((projects["gcp"] / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    assert {"terraform-static", "terraform-policy", "terraform-plan"} <= set(ci)
    assert any(line.startswith("make tf-policy") for line in ci["terraform-policy"]["script"])
    assert ci["terraform-plan"]["parallel"]["matrix"][0]["ENV"] == ["dev", "prod"]
    assert any("terraform plan" in line for line in ci["terraform-plan"]["script"])


@pytest.mark.parametrize("cloud", CLOUD_MODULES)
def test_module_calls_match_module_interfaces(cloud: str, projects: dict[str, Path]) -> None:
    """A static stand-in for part of `terraform validate` (which needs providers): every module call in
    the rendered roots passes only declared variables and every required one, and every
    `module.<name>.<output>` it reads is an output of that module."""
    project = projects[cloud]
    infra = project / "infra"
    parsed = parse_tf(infra)
    for root in ("stack",):
        root_text = "\n".join(p.read_text(encoding="utf-8") for p in (infra / root).glob("*.tf"))
        calls = {name: block for entry in parsed[f"{root}/main.tf"]["module"] for name, block in entry.items()}
        for name, call in calls.items():
            module_dir = (infra / root / call["source"]).resolve()
            module = {k: v for k, v in parse_tf(module_dir).items() if not k.startswith("tests")}
            variables = {n: v for doc in module.values() for entry in doc.get("variable", []) for n, v in entry.items()}
            outputs = {n for doc in module.values() for entry in doc.get("output", []) for n in entry}
            passed = {
                k
                for k in call
                if not k.startswith("__") and k not in ("source", "version", "providers", "count", "for_each")
            }
            assert passed <= set(variables), f"{root}/{name}: undeclared {sorted(passed - set(variables))}"
            required = {n for n, v in variables.items() if "default" not in v}
            assert required <= passed, f"{root}/{name}: missing required {sorted(required - passed)}"
            used = set(re.findall(rf"module\.{name}\.(\w+)", root_text))
            assert used <= outputs, f"{root}/{name}: reads undeclared outputs {sorted(used - outputs)}"


@needs_terraform
@pytest.mark.parametrize("cloud", CLOUD_MODULES)
def test_terraform_loads_the_rendered_configuration(cloud: str, projects: dict[str, Path], tmp_path: Path) -> None:
    """`terraform init -backend=false` reads every root and module before it looks for providers, so
    syntax and structure errors surface here. Provider installation points at an empty mirror, so it
    fails fast and offline; this is not `terraform validate`, which needs the providers."""
    mirror = tmp_path / "empty-mirror"
    mirror.mkdir()
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror.as_posix()}"\n  }}\n}}\n'
    )
    infra = tmp_path / "infra"
    shutil.copytree(projects[cloud] / "infra", infra)
    env = {**tf_env(), "TF_CLI_CONFIG_FILE": str(cli_config)}
    for root in [infra / "stack"]:
        result = subprocess.run(
            [TERRAFORM or "terraform", "init", "-backend=false", "-input=false", "-no-color"],
            cwd=root,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        output = result.stdout + result.stderr
        assert f"- platform in ../modules/{cloud}" in output, output
        errors = re.findall(r"^Error: (.+)$", output, flags=re.MULTILINE)
        assert errors and set(errors) == {"Failed to query available provider packages"}, output


# ---------------------------------------------------------------- names: the engine's, validated the same way

# Project names that stress the rules: short, long (shortened), digits, accents, a slug ending in a
# digit run, and the 20-character cut landing on a '-'.
NAMING_PROJECTS = (
    "Churn Prediction",
    "a",
    "X9",
    "Customer Churn Prediction Model Alpha",
    "A very long project name for fraud detec",
    "Café Crème 2",
    "twenty chars then dash x",
    "Demand Forecast 2026",
)


def _hcl_object(values: dict[str, str]) -> str:
    return "{\n" + "".join(f"      {key} = {json.dumps(value)}\n" for key, value in values.items()) + "    }"


def hcl_block(text: str, header: str) -> str:
    """One top-level block of an HCL file (`header` up to its closing brace), on its own."""
    start = text.index(header)
    depth = 0
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0 and text[index] == "}":
            return text[start : index + 1]
    raise AssertionError(f"unbalanced block {header}")


def _names_block(module: str) -> str:
    """The `variable "names"` block of a cloud module (its type and validations), on its own."""
    return hcl_block((MODULES / module / "variables.tf").read_text(encoding="utf-8"), 'variable "names" {')


def _bad_names(cloud: str, good: dict[str, str]) -> list[dict[str, str]]:
    """One wrong name at a time: uppercase, a trailing '-', and one character over the limit."""
    from platform_engine.tables import table

    bad = []
    for key, value in good.items():
        bad.append({**good, key: value.upper()})
        bad.append({**good, key: value + "-"})
    for kind in ("prefix", "storage_account"):
        if kind in good:
            limit = int(table("naming")["clouds"][cloud]["kinds"][kind]["max_length"])
            bad.append({**good, kind: (good[kind] + "x" * 64)[: limit + 1]})
    return bad


@needs_terraform
@pytest.mark.parametrize("cloud", CLOUD_MODULES)
def test_module_name_validation_agrees_with_the_engine(cloud: str, tmp_path: Path) -> None:
    """Every name the engine decides passes the module's `names` validation, and a name one step
    outside the cloud's rules fails it. The validations run offline: only the variable is copied."""
    from platform_engine import Answers
    from platform_engine.naming import decide_names

    work = tmp_path / cloud
    (work / "tests").mkdir(parents=True)
    (work / "main.tf").write_text(_names_block(cloud) + "\n", encoding="utf-8")
    runs, good = [], {}
    for index, name in enumerate(NAMING_PROJECTS):
        for suffix in ("", "zz99zz99"):
            answers = Answers(project_name=name, cloud=cloud, resource_suffix=suffix)
            for env, record in decide_names(answers, "x")["environments"].items():
                good = record["resources"]
                runs.append(
                    f'run "engine_{index}_{env}_{len(suffix)}" {{\n  command = plan\n'
                    f"  variables {{\n    names = {_hcl_object(good)}\n  }}\n}}\n"
                )
    for index, bad in enumerate(_bad_names(cloud, good)):
        runs.append(
            f'run "refused_{index}" {{\n  command = plan\n  variables {{\n    names = {_hcl_object(bad)}\n  }}\n'
            f"  expect_failures = [var.names]\n}}\n"
        )
    (work / "tests" / "names.tftest.hcl").write_text("\n".join(runs), encoding="utf-8")
    for args in (["init", "-input=false", "-no-color"], ["test", "-no-color"]):
        result = subprocess.run(
            [TERRAFORM or "terraform", *args], cwd=work, capture_output=True, text=True, env=tf_env(), timeout=600
        )
        assert result.returncode == 0, f"terraform {args[0]}:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    summary = re.search(r"(\d+) passed, (\d+) failed", result.stdout)
    assert summary and int(summary.group(1)) == len(runs) and summary.group(2) == "0", result.stdout[-3000:]


@needs_terraform
def test_cost_tags_keep_the_engines_labels(tmp_path: Path) -> None:
    """The cost_tags module leaves the engine's normalised values as they are (so the tags on the
    resources are the labels platform.yaml records), and normalises each served model's raw name to
    the same value (so a project updated from 0.6.0, which passed the raw name, keeps its tags)."""
    from platform_engine import AnswerError, Answers, decide
    from platform_engine.naming import label_value
    from platform_engine.tables import use_cases

    models = set()
    for use_case in use_cases():
        for hosting in ("api", "self_hosted"):
            for preference in ("speed", "accuracy"):
                try:
                    answers = Answers(use_case=use_case, hosting=hosting, accuracy_preference=preference)
                    models.add(decide(answers, with_fixes=False).model.choice)
                except AnswerError:
                    continue
    raw = {f"m{index}": model for index, model in enumerate(sorted(models))}
    values = {**raw, **{f"n{index}": label_value(model) for index, model in enumerate(sorted(models))}}
    work = tmp_path / "root"
    work.mkdir()
    shutil.copytree(MODULES / "cost_tags", work / "cost_tags")
    (work / "main.tf").write_text(
        'variable "models" {\n  type = map(string)\n}\n\n'
        'module "tags" {\n  source   = "./cost_tags"\n  for_each = var.models\n\n'
        '  project     = "churn-prediction"\n  environment = "dev"\n  owner       = "ml-team"\n'
        '  cost_center = "ml-platform"\n  model       = each.value\n}\n\n'
        'output "labels" {\n  value = { for key, tags in module.tags : key => tags.labels.model }\n}\n',
        encoding="utf-8",
    )
    (work / "terraform.tfvars.json").write_text(json.dumps({"models": values}), encoding="utf-8")
    for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
        result = subprocess.run(
            [TERRAFORM or "terraform", *args], cwd=work, capture_output=True, text=True, env=tf_env(), timeout=300
        )
        assert result.returncode == 0, f"terraform {args[0]}:\n{result.stdout[-4000:]}\n{result.stderr[-3000:]}"
    output = subprocess.run(
        [TERRAFORM or "terraform", "output", "-json", "labels"], cwd=work, capture_output=True, text=True, env=tf_env()
    )
    labels = json.loads(output.stdout)
    for key, model in raw.items():
        normalised = label_value(model)
        assert labels["n" + key[1:]] == normalised, (model, labels["n" + key[1:]])
        assert labels[key] == normalised, (model, labels[key])

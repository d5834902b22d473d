"""Tier 2: the cloud side of self-hosted generation (decisions.model.llm with served_in_cloud).

A text-generation project hosted on its own GPUs holds deploy/llm/: Triton's vLLM image (Dockerfile)
with a model repository for Triton's vLLM backend (llm/config.pbtxt, llm/1/model.json = the decided
engine arguments). Its dev and prod overlays run that image as the Triton Deployment on the GPU pool
the engine sized for the model (llm.yaml), and `make images` builds it. The engine arguments are
checked against vLLM's own EngineArgs, read from the sdist of the vLLM release in the image (PyPI,
cached in ~/.cache/mlops-scaffold). A tabular project and an API-hosted one hold none of it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import render_project
from platform_engine import Answers, decide
from pod_security import restricted_violations
from test_render_images import HADOLINT, UV, built_images
from test_render_k8s import K8S_VERSION, checkov_failures, kustomize, scan_kubernetes, unexplained_skips

pytestmark = pytest.mark.render

# Each cloud with two precisions, each precision on two clouds, both model sizes (1, 2 and 4 GPUs per
# replica; AWQ, FP8 and INT8 W8A8 checkpoints); the engine-level check below covers every combination.
CASES: dict[str, dict[str, Any]] = {
    "aws_fp16_7b": {"cloud": "aws", "precision": "fp16", "model_size_b": 7},
    "aws_int4_70b": {"cloud": "aws", "precision": "int4", "model_size_b": 70},
    "gcp_int8_70b": {"cloud": "gcp", "precision": "int8", "model_size_b": 70},
    "gcp_int4_7b": {"cloud": "gcp", "precision": "int4", "model_size_b": 7},
    "azure_fp16_7b": {"cloud": "azure", "precision": "fp16", "model_size_b": 7},
    "azure_int8_70b": {"cloud": "azure", "precision": "int8", "model_size_b": 70},
}
SELF_HOSTED = {"use_case": "text_generation", "hosting": "self_hosted", "tune": True}
REPOSITORY = "deploy/llm/model_repository"
# What model.json adds to the decided engine arguments (config.pbtxt says why).
BACKEND_EXTRAS = {"enable_log_requests": False}
# The vLLM backend's request/response contract: (name, data type, dims, optional).
INPUTS = [
    ("text_input", "TYPE_STRING", [1], False),
    ("stream", "TYPE_BOOL", [1], True),
    ("sampling_parameters", "TYPE_STRING", [1], True),
    ("exclude_input_in_output", "TYPE_BOOL", [1], True),
]
OUTPUTS = [("text_output", "TYPE_STRING", [-1])]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlops-scaffold"
# Triton's model-config protobuf (tritonclient.grpc.model_config_pb2 with protobuf's text_format) parses
# config.pbtxt in an environment of its own, as checkov runs: the generator's has no tritonclient.
TRITONCLIENT = "tritonclient[grpc]==2.73.0"
PARSE_CONFIGS = """
import json, sys
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb
out = []
for path in sys.argv[1:]:
    c = text_format.Parse(open(path, encoding="utf-8").read(), pb.ModelConfig())
    out.append({
        "name": c.name, "backend": c.backend, "max_batch_size": c.max_batch_size,
        "decoupled": c.model_transaction_policy.decoupled,
        "instance_group": [[g.count, pb.ModelInstanceGroup.Kind.Name(g.kind)] for g in c.instance_group],
        "input": [[i.name, pb.DataType.Name(i.data_type), list(i.dims), i.optional] for i in c.input],
        "output": [[o.name, pb.DataType.Name(o.data_type), list(o.dims)] for o in c.output],
        "parameters": {key: value.string_value for key, value in c.parameters.items()},
    })
print(json.dumps(out))
"""


def parse_model_configs(paths: list[Path]) -> list[dict[str, Any]]:
    command = [UV, "run", "--isolated", "--no-project", "--with", TRITONCLIENT, "python", "-c", PARSE_CONFIGS]
    result = subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"config.pbtxt does not parse as Triton's ModelConfig:\n{result.stderr[-3000:]}"
    parsed: list[dict[str, Any]] = json.loads(result.stdout)
    return parsed


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("llm-cloud")
    return {name: render_project(root / name, **SELF_HOSTED, **answers) for name, answers in CASES.items()}


def platform(project: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    return loaded


def llm_of(project: Path) -> dict[str, Any]:
    llm: dict[str, Any] = platform(project)["decisions"]["model"]["llm"]
    return llm


# ---------------------------------------------------------------- the model repository and image


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_model_repository_is_the_decided_engine_on_the_vllm_backend(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    llm = llm_of(project)
    assert llm["served_in_cloud"] and llm["backend"]["name"] == "vllm"
    model_json = json.loads((project / REPOSITORY / "llm" / "1" / "model.json").read_text(encoding="utf-8"))
    assert model_json == {**llm["engine"], **BACKEND_EXTRAS}
    assert (
        model_json["tensor_parallel_size"]
        == platform(project)["decisions"]["gpu"]["environments"]["prod"]["gpus_per_replica"]
    )

    (config,) = parse_model_configs([project / REPOSITORY / "llm" / "config.pbtxt"])
    assert (config["name"], config["backend"], config["max_batch_size"]) == ("llm", "vllm", 0)
    assert config["decoupled"], "the vLLM backend streams: decoupled transaction policy"
    assert config["instance_group"] == [[1, "KIND_MODEL"]], "one engine over all the pod's GPUs"
    assert [tuple(i) for i in config["input"]] == INPUTS
    assert [tuple(o) for o in config["output"]] == OUTPUTS
    assert config["parameters"] == {"REPORT_CUSTOM_METRICS": "true"}

    dockerfile = (project / "deploy" / "llm" / "Dockerfile").read_text(encoding="utf-8")
    assert re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE) == [llm["backend"]["image"]]
    assert f"COPY {REPOSITORY} /opt/llm/model_repository" in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_the_vllm_image_is_the_release_of_the_projects_triton(projects: dict[str, Path]) -> None:
    """The vLLM image moves with the project's other Triton image (its vLLM version comes from the
    compatibility matrix of that release: generation.yaml `backend`)."""
    project = projects["aws_fp16_7b"]
    base = yaml.safe_load((project / "deploy" / "k8s" / "base" / "deployment.yaml").read_text(encoding="utf-8"))
    (stock,) = [c["image"] for c in base["spec"]["template"]["spec"]["containers"]]
    release = re.fullmatch(r"nvcr\.io/nvidia/tritonserver:(\d\d\.\d\d)-py3", stock)
    assert release, stock
    assert llm_of(project)["backend"]["image"] == f"nvcr.io/nvidia/tritonserver:{release.group(1)}-vllm-python-py3"


def test_the_llm_image_passes_hadolint_and_the_deploy_builds_it(projects: dict[str, Path]) -> None:
    project = projects["aws_int4_70b"]
    dockerfile = project / "deploy" / "llm" / "Dockerfile"
    result = subprocess.run([*HADOLINT, str(dockerfile)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"hadolint {dockerfile}:\n{result.stdout}{result.stderr}"
    assert "--file deploy/llm/Dockerfile" in deploy_plan(project), "make deploy does not build and push the LLM image"


def deploy_plan(project: Path) -> str:
    """What `make deploy ENV=prod` would run (make -n): the images it builds and pushes, the applies."""
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "deploy", "ENV=prod", "TAG=0123456789ab"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plan.returncode == 0, plan.stderr[-3000:]
    return plan.stdout


# ---------------------------------------------------------------- vLLM's own argument definitions


def vllm_sdist(version: str) -> Path:
    """vLLM `version`'s sdist from PyPI, cached (the check reads its source, it never imports vLLM)."""
    path = CACHE / f"vllm-{version}.tar.gz"
    if path.is_file():
        return path
    need = f"this check needs PyPI (https://pypi.org) to download vLLM {version}'s sdist into {CACHE}"
    try:
        try:
            files = _pypi_json(f"https://pypi.org/pypi/vllm/{version}/json")["urls"]
        except urllib.error.HTTPError:  # some mirrors serve the project's JSON only
            files = _pypi_json("https://pypi.org/pypi/vllm/json")["releases"].get(version, [])
        sdists = [f for f in files if f["packagetype"] == "sdist"]
        if not sdists:
            pytest.fail(f"PyPI lists no sdist of vLLM {version}: is generation.yaml backend.vllm a release?")
        url = urllib.parse.urljoin("https://pypi.org/pypi/vllm/json", sdists[0]["url"])
        with urllib.request.urlopen(url, timeout=300) as response:
            data = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        pytest.fail(f"{need}: {error}")
    assert hashlib.sha256(data).hexdigest() == sdists[0]["digests"]["sha256"], f"{url}: sha256 differs from PyPI's"
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(path)
    return path


def _pypi_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=60) as response:
        loaded: dict[str, Any] = json.load(response)
    return loaded


@cache
def engine_args_spec(version: str) -> dict[str, Any]:
    """From vLLM's source: the fields of EngineArgs and AsyncEngineArgs (what Triton's vLLM backend
    builds from model.json: `AsyncEngineArgs(**model_json)`) with their annotations, and the values of
    the Literal types those annotations name (e.g. ModelDType, QuantizationMethods)."""
    with tarfile.open(vllm_sdist(version)) as sdist:
        sources = {
            member.name.split("/", 1)[1]: sdist.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
            for member in sdist.getmembers()
            if member.isfile() and member.name.endswith(".py") and "/vllm/" in member.name
        }
    fields: dict[str, str] = {}
    for node in ast.parse(sources["vllm/engine/arg_utils.py"]).body:
        if isinstance(node, ast.ClassDef) and node.name in ("EngineArgs", "AsyncEngineArgs"):
            assert any(ast.unparse(d).endswith("dataclass") for d in node.decorator_list), node.name
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    fields[item.target.id] = ast.unparse(item.annotation)
    assert "model" in fields and "tensor_parallel_size" in fields, sorted(fields)
    names = {name for annotation in fields.values() for name in re.findall(r"[A-Za-z_]\w*", annotation)}
    literals: dict[str, list[str]] = {}
    for text in (text for text in sources.values() if re.search(r"=\s*Literal\[", text)):
        for node in ast.parse(text).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if (
                isinstance(target, ast.Name)
                and target.id in names
                and isinstance(value, ast.Subscript)
                and ast.unparse(value.value).endswith("Literal")
            ):
                elements = value.slice.elts if isinstance(value.slice, ast.Tuple) else [value.slice]
                if all(isinstance(e, ast.Constant) for e in elements):  # nested aliases: not checked
                    literals[target.id] = [e.value for e in elements]  # type: ignore[attr-defined]
    return {"fields": fields, "literals": literals}


def engine_arg_problems(args: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """What vLLM would refuse: unknown keys, values outside a Literal, values of the wrong plain type."""
    problems = []
    plain = {"int": int, "float": (int, float), "bool": bool, "str": str}
    for key, value in args.items():
        annotation = spec["fields"].get(key)
        if annotation is None:
            problems.append(f"{key}: not a field of EngineArgs/AsyncEngineArgs")
            continue
        named = [name for name in re.findall(r"[A-Za-z_]\w*", annotation) if name in spec["literals"]]
        if named and value is not None:
            allowed = [v for name in named for v in spec["literals"][name]]
            if value not in allowed:
                problems.append(f"{key}={value!r}: not one of {annotation} {allowed}")
        elif annotation in plain and (
            not isinstance(value, plain[annotation]) or (annotation != "bool" and isinstance(value, bool))
        ):
            problems.append(f"{key}={value!r}: not {annotation}")
    return problems


def test_the_rendered_engine_arguments_are_vllms_own(projects: dict[str, Path]) -> None:
    versions = {llm_of(project)["backend"]["vllm"] for project in projects.values()}
    assert len(versions) == 1, versions
    spec = engine_args_spec(versions.pop())
    assert {"ModelDType", "QuantizationMethods"} <= set(spec["literals"]), "dtype and quantization are checked"
    for name, project in projects.items():
        model_json = json.loads((project / REPOSITORY / "llm" / "1" / "model.json").read_text(encoding="utf-8"))
        assert not engine_arg_problems(model_json, spec), (name, engine_arg_problems(model_json, spec))


def test_every_decided_engine_is_valid_for_the_pinned_vllm() -> None:
    """Every cloud, precision and model size the renders above sample, at the engine level."""
    for cloud in ("aws", "gcp", "azure"):
        for precision in ("fp16", "int8", "int4"):
            for size in (7, 70):
                answers = Answers.from_mapping(
                    {**SELF_HOSTED, "cloud": cloud, "precision": precision, "model_size_b": size}
                )
                llm = decide(answers).model.numbers["llm"]
                spec = engine_args_spec(llm["backend"]["vllm"])
                args = {**llm["engine"], **BACKEND_EXTRAS}
                assert not engine_arg_problems(args, spec), (cloud, precision, size, engine_arg_problems(args, spec))


def test_the_check_refuses_what_vllm_refuses(projects: dict[str, Path]) -> None:
    spec = engine_args_spec(llm_of(projects["aws_fp16_7b"])["backend"]["vllm"])
    bad = {"model": "m", "dtype": "fp16", "quantization": "awq4", "tensor_parallel_size": "4", "tp": 2}
    assert len(engine_arg_problems(bad, spec)) == 4


# ---------------------------------------------------------------- Kubernetes: the sized GPU fleet


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_cloud_overlays_run_the_llm_on_the_sized_gpu_pool(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    decisions = platform(project)["decisions"]
    llm, gpu = decisions["model"]["llm"], decisions["gpu"]
    slug = platform(project)["project"]["slug"]
    assert built_images(project)[f"{slug}-llm"][0] == "deploy/llm/Dockerfile"
    for env in platform(project)["project"]["environments"]:
        docs = kustomize(project / "deploy" / "k8s" / "overlays" / env)
        for doc in docs:
            if doc["apiVersion"] != "monitoring.coreos.com/v1":
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            assert not restricted_violations(doc), restricted_violations(doc)
        gpu_pods = [
            doc
            for doc in docs
            if doc["kind"] == "Deployment"
            and any(
                "nvidia.com/gpu" in c["resources"].get("limits", {})
                for c in doc["spec"]["template"]["spec"]["containers"]
            )
        ]
        # one GPU fleet, the one the pool was sized for: the LLM
        assert [doc["metadata"]["name"] for doc in gpu_pods] == ["triton"], "one GPU Deployment on the decided pool"
        (deployment,) = gpu_pods
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        sizing = gpu["environments"][env]
        assert container["image"] == f"{slug}-llm"
        assert "--model-repository=/opt/llm/model_repository" in container["args"]
        assert int(container["resources"]["limits"]["nvidia.com/gpu"]) == llm["engine"]["tensor_parallel_size"]
        assert sizing["gpus_per_replica"] == llm["engine"]["tensor_parallel_size"]
        assert deployment["spec"]["replicas"] == sizing["min_replicas"]
        if sizing["min_replicas"] > 0:
            (hpa,) = [doc for doc in docs if doc["kind"] == "HorizontalPodAutoscaler"]
            assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
                sizing["min_replicas"],
                sizing["max_replicas"],
            )
        assert pod["nodeSelector"] == {key: str(value) for key, value in gpu["labels"].items()}
        taint = gpu["taint"]
        assert pod["tolerations"] == [
            {"key": taint["key"], "operator": "Equal", "value": str(taint["value"]), "effect": taint["effect"]}
        ]
        assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
        env_vars = {var["name"]: var for var in container["env"]}
        assert env_vars["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {
            "name": "hf-token",
            "key": "token",
            "optional": True,
        }
        assert "LD_PRELOAD" not in env_vars
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        assert volumes[mounts["/dev/shm"]]["emptyDir"]["medium"] == "Memory"
        assert env_vars["HOME"]["value"] in mounts and "emptyDir" in volumes[mounts[env_vars["HOME"]["value"]]]

    # the local overlay (kind, CPU) still serves the champion with the stock image
    local = kustomize(project / "deploy" / "k8s" / "overlays" / "local")
    (triton,) = [doc for doc in local if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "triton"]
    assert not triton["spec"]["template"]["spec"]["containers"][0]["image"].endswith("-llm")


def test_checkov_passes_the_llm_overlays_or_says_why_not(
    projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    scanned = {name: projects[name] for name in ("aws_int4_70b", "azure_fp16_7b")}
    checks = scan_kubernetes(scanned, tmp_path_factory.mktemp("checkov-llm"))["checks"]
    assert {check["kustomization"] for check in checks} >= {"overlays/dev", "overlays/prod"}
    failed = checkov_failures(checks, lambda c: f"{c['case']} {c['kustomization']}: {c['check_id']} ({c['resource']})")
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    unexplained = unexplained_skips(checks, lambda c: f"{c['case']} {c['kustomization']}: {c['check_id']}")
    assert not unexplained, "\n".join(unexplained)


# ---------------------------------------------------------------- only where the LLM is served in the cloud


@pytest.mark.parametrize("answers", [{"use_case": "tabular"}, {"use_case": "text_generation", "hosting": "api"}])
def test_other_projects_hold_no_cloud_llm(tmp_path: Path, answers: dict[str, Any]) -> None:
    project = render_project(tmp_path / "project", **answers)
    llm = platform(project)["decisions"]["model"]["llm"]
    assert llm is None or not llm["served_in_cloud"]
    assert not (project / "deploy" / "llm").exists()
    assert not list(project.glob("deploy/k8s/overlays/*/llm.yaml"))
    for kustomization in project.glob("deploy/k8s/overlays/*/kustomization.yaml"):
        assert "llm.yaml" not in kustomization.read_text(encoding="utf-8")
    images = re.search(r"^IMAGES := (.*)$", (project / "mk" / "images.mk").read_text(encoding="utf-8"), re.MULTILINE)
    assert images and "llm" not in images.group(1).split()

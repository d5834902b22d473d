"""Sizing parity: terraform/modules/gpu_node_pool_sizing and the engine's `size_node_pool` agree.

One `terraform plan` (no providers, in a temporary folder) sizes every case of a grid at once
through a `for_each` over the module; the engine sizes the same cases in Python.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from platform_engine.sizing import size_node_pool
from platform_engine.tables import table

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "terraform" / "modules" / "gpu_node_pool_sizing"
TERRAFORM = shutil.which("terraform")

pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")

CLOUDS = ("aws", "gcp", "azure")
SAMPLE_SIZE = 40
EXACT = (
    "tier",
    "instance_type",
    "accelerator",
    "gpus_per_node",
    "gpus_per_replica",
    "replicas",
    "min_nodes",
    "max_nodes",
    "fits",
)
APPROX = {"hourly_per_node": 1e-4, "capacity_rps_per_replica": 1e-3, "model_memory_gb": 1e-3}

HARNESS = """
variable "cases" {
  type = map(object({
    cloud       = string
    params_b    = number
    precision   = string
    peak_rps    = number
    generation  = bool
    environment = string
    gpu_type    = string
  }))
}

module "sizing" {
  source   = "%(module)s"
  for_each = var.cases

  cloud       = each.value.cloud
  params_b    = each.value.params_b
  precision   = each.value.precision
  peak_rps    = each.value.peak_rps
  generation  = each.value.generation
  environment = each.value.environment
  gpu_type    = each.value.gpu_type
}

output "pools" {
  value = {
    for key, pool in module.sizing : key => {
      tier = pool.tier, instance_type = pool.instance_type, accelerator = pool.accelerator,
      gpus_per_node = pool.gpus_per_node, gpus_per_replica = pool.gpus_per_replica, replicas = pool.replicas,
      min_nodes = pool.min_nodes, max_nodes = pool.max_nodes, fits = pool.fits,
      hourly_per_node = pool.hourly_per_node, capacity_rps_per_replica = pool.capacity_rps_per_replica,
      model_memory_gb = pool.model_memory_gb, taint = pool.taint, labels = pool.labels,
    }
  }
}

output "catalog" {
  value = values(module.sizing)[0].catalog
}
"""


def grid() -> dict[str, dict[str, Any]]:
    """A deterministic sample of the full grid (one terraform run evaluates every case, and terraform
    grows slow beyond a few hundred module instances), plus every forced tier on every cloud."""
    params = (0.001, 0.3, 1.5, 7, 13, 34, 70, 180, 405)
    peaks = (0, 2, 40, 79, 120, 450, 3000)
    full = list(
        itertools.product(CLOUDS, ("dev", "prod"), params, ("fp32", "fp16", "int8", "int4"), (False, True), peaks)
    )
    sample = random.Random(7).sample(full, SAMPLE_SIZE)
    cases: dict[str, dict[str, Any]] = {}
    for cloud, env, p, precision, generation, peak in sample:
        cases[f"c{len(cases)}"] = dict(
            cloud=cloud,
            params_b=p,
            precision=precision,
            peak_rps=peak,
            generation=generation,
            environment=env,
            gpu_type="auto",
        )
    for cloud, gpu_type, p in itertools.product(
        CLOUDS, ("t4", "a10g", "a100_40gb", "a100_80gb"), (0.001, 10, 20, 34, 70, 405)
    ):
        cases[f"c{len(cases)}"] = dict(
            cloud=cloud,
            params_b=p,
            precision="fp16",
            peak_rps=25,
            generation=False,
            environment="prod",
            gpu_type=gpu_type,
        )
    return cases


def _terraform(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    result = subprocess.run([TERRAFORM or "terraform", *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"terraform {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def terraform_sizing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Plan the harness once and read the planned outputs."""
    work = tmp_path_factory.mktemp("sizing-parity")
    (work / "main.tf").write_text(HARNESS % {"module": MODULE.as_posix()}, encoding="utf-8")
    (work / "cases.auto.tfvars.json").write_text(json.dumps({"cases": grid()}), encoding="utf-8")
    _terraform(["init", "-input=false", "-no-color"], work)
    # No resources: the plan alone evaluates every output (cheaper than apply, which walks twice).
    _terraform(["plan", "-input=false", "-no-color", "-lock=false", "-out=sizing.tfplan"], work)
    plan = json.loads(_terraform(["show", "-json", "sizing.tfplan"], work))
    outputs = plan["planned_values"]["outputs"]
    return {"pools": outputs["pools"]["value"], "catalog": outputs["catalog"]["value"]}


def test_every_case_matches_the_engine(terraform_sizing: dict[str, Any]) -> None:
    cases = grid()
    pools = terraform_sizing["pools"]
    assert set(pools) == set(cases)
    mismatches = []
    for key, case in cases.items():
        expected = size_node_pool(**case).to_dict()
        got = pools[key]
        for field in EXACT:
            if got[field] != expected[field]:
                mismatches.append(f"{case}: {field} terraform={got[field]!r} engine={expected[field]!r}")
        for field, tolerance in APPROX.items():
            if abs(float(got[field]) - float(expected[field])) > tolerance:
                mismatches.append(f"{case}: {field} terraform={got[field]!r} engine={expected[field]!r}")
    assert not mismatches, f"{len(mismatches)} mismatches, first: " + "\n".join(mismatches[:10])


def test_grid_reaches_every_instance_type() -> None:
    """The grid is only as good as its coverage: every base and multi-GPU shape is chosen somewhere."""
    prices = table("prices")
    chosen = {(case["cloud"], size_node_pool(**case).instance_type) for case in grid().values()}
    for cloud in CLOUDS:
        expected = {row["instance"] for row in prices["gpu"][cloud].values()}
        # Shapes whose GPU count no replica needs (power-of-two replica sizes) are not reachable.
        for tier, shapes in prices["multi_gpu_shapes"][cloud].items():
            expected |= {name for count, name in shapes.items() if int(count) > prices["gpu"][cloud][tier]["gpus"]}
        missing = {name for name in expected if (cloud, name) not in chosen}
        assert not missing, f"{cloud}: no grid case picks {sorted(missing)}"


def test_taints_and_labels_match_the_engine(terraform_sizing: dict[str, Any]) -> None:
    node_pool = table("sizing")["node_pool"]
    for key, case in grid().items():
        pool = terraform_sizing["pools"][key]
        assert pool["taint"] == node_pool[case["cloud"]]["taint"]
        assert pool["labels"] == node_pool[case["cloud"]]["labels"]


def test_tables_match_the_engine_data(terraform_sizing: dict[str, Any]) -> None:
    """The module's own copy of the tables equals the engine's YAML (so untested corners agree too)."""
    catalog = terraform_sizing["catalog"]
    sizing, prices = table("sizing"), table("prices")
    assert catalog["tiers"] == [
        {k: tier[k] for k in ("id", "label", "gpu_memory_gb", "capacity_rps")} for tier in sizing["tiers"]
    ]
    assert catalog["bytes_per_param"] == sizing["bytes_per_param"]
    assert catalog["memory_overhead"] == sizing["memory_overhead"]
    assert catalog["headroom"] == sizing["headroom"]
    assert catalog["generation"] == sizing["generation"]
    assert catalog["environments"] == sizing["environments"]
    assert catalog["node_pool"] == sizing["node_pool"]
    fields = ("instance", "gpus", "gpu_memory_gb", "hourly")
    assert catalog["instances"] == {
        cloud: {
            tier: {**{k: row[k] for k in fields}, "accelerator": row.get("accelerator", "")}
            for tier, row in tiers.items()
        }
        for cloud, tiers in prices["gpu"].items()
    }
    assert catalog["multi_gpu_shapes"] == {
        cloud: {tier: {str(count): name for count, name in shapes.items()} for tier, shapes in tiers.items()}
        for cloud, tiers in prices["multi_gpu_shapes"].items()
    }

"""Airflow 3 DAG: (re)train the model through the Kubeflow pipeline.

No schedule of its own: the monitoring layer's `retrain_on_drift` DAG triggers it when drift
persists (platform.yaml `monitoring.drift.retrain_dag_id` is this DAG's id), and people trigger it
by hand. The task is a thin call into the training pipeline's command line:
`pipelines/training_pipeline.py run` on the local profile (kfp.local, MLflow in .local/), `submit`
to the Kubeflow endpoint in platform.yaml `training.remote` on the cloud profile
(PLATFORM_PROFILE=cloud). Promotion stays the pipeline's decision: a retrained model that does not
beat the champion remains `challenger`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from airflow.sdk import dag, task

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PLATFORM_CONFIG", str(ROOT / "platform.yaml"))
PLATFORM = yaml.safe_load(Path(os.environ["PLATFORM_CONFIG"]).read_text(encoding="utf-8"))
PROJECT = PLATFORM["project"]
DAG_ID = str(PLATFORM["monitoring"]["drift"]["retrain_dag_id"])


def pipeline_command(profile: str) -> list[str]:
    """`run` locally, `submit` to Kubeflow in the cloud profile."""
    action = "submit" if profile == "cloud" else "run"
    return [sys.executable, str(ROOT / "pipelines" / "training_pipeline.py"), action]


@dag(
    dag_id=DAG_ID,
    description=f"Retrain {PROJECT['name']} through the Kubeflow training pipeline",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=[PROJECT["slug"], "training"],
    default_args={
        "owner": PROJECT["owner"],
        "retries": 1,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(hours=2),
    },
    doc_md=__doc__,
)
def training_dag() -> None:
    @task
    def train_evaluate_promote() -> str:
        command = pipeline_command(os.environ.get("PLATFORM_PROFILE", "local"))
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        print(result.stdout[-4000:])
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command[1:])} exited {result.returncode}: {result.stderr[-2000:]}")
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "done"

    train_evaluate_promote()


training_dag()

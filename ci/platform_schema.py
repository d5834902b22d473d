"""Write (or check) template/platform.schema.json from the project's platform_schema.py.

The schema is the same for every project (platform_schema.py has no Jinja), so the template ships
it ready-made; projects regenerate it with `make schema` after changing their own models.

    uv run python ci/platform_schema.py           # write it
    uv run python ci/platform_schema.py --check   # exit 1 when it is stale
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "template" / "src" / "{{ package_name }}" / "platform_schema.py"
SCHEMA = REPO / "template" / "platform.schema.json"


def rendered_schema() -> str:
    spec = importlib.util.spec_from_file_location("platform_schema", MODELS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["platform_schema"] = module  # pydantic resolves the models' annotations through it
    spec.loader.exec_module(module)
    return json.dumps(module.json_schema(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = rendered_schema()
    if "--check" in argv:
        if SCHEMA.read_text(encoding="utf-8") != text:
            print(f"{SCHEMA.relative_to(REPO)} is stale: run `uv run python ci/platform_schema.py`")
            return 1
        print(f"{SCHEMA.relative_to(REPO)} matches platform_schema.py")
        return 0
    SCHEMA.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

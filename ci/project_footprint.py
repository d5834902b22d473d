"""What a generated project holds, per use case: files, Python lines, and how much of its package
its own entry points reach. Prints a table; the issue's targets are 100% reached and, for the
tabular default, at most half of the 0.6.0 Python lines. With more than one use case, a last column
counts each project's lines in files that all the others hold with the same text (the package name
aside): the runtime every project carries alike.

    uv run python ci/project_footprint.py                         # every use case, this checkout
    uv run python ci/project_footprint.py --use-cases tabular ocr --unreached
    uv run python ci/project_footprint.py --use-cases tabular segmentation --data serving_pattern=edge
    uv run python ci/project_footprint.py --copy-runs 5           # also time `copier copy --defaults`
    uv run python ci/project_footprint.py --use-cases tabular --runtime   # minutes per use case
    uv run python ci/project_footprint.py --use-cases tabular --runtime --lines --unrun

With --runtime the project is set up (`make setup`) and all its own tests and its smoke run (`make
test test-stack smoke`, or --targets) with a recorder on PYTHONPATH (a sitecustomize), so every
Python process the run starts (pytest, the layers' subprocesses, Airflow's tasks) writes the modules
it imported when it exits; "used" is the share of the package's modules really imported, plus the
files Triton loads by path. Triton stops its python models' processes with a signal, so they record
nothing: a module only they import (search_rag's serving/heap.py) shows as not imported. That is
the issue's measure; the static columns are an upper bound. --lines goes one level down: the same
sitecustomize starts coverage.py in every process, and a second table gives the package's
statements that ran and those in functions that never ran (--unrun lists them). Two kinds of code
run out of coverage's sight and are counted apart: Triton's python models (loaded from a copy in
the model repository) and the Kubeflow components (kfp ships a component's source to its executor
as text).

Reach is static: the package modules imported, transitively (module-level and function-level
imports alike), from the project's entry points. "run" starts from what runs the platform: the DAGs,
the pipelines, the feature repo, every module the Makefile or the code starts by name
(`python -m <package>.x`, `<package>.x` in a command) and the files Triton loads by path
(`Path(__file__).with_name("x.py")`), and the modules the code imports by name (a relative name,
or a folder whose module is picked at run time: data/samples/<family>.py); "tests" adds the
project's tests. Static reach counts a function-level import as used even when the project's
answers never call that function, so it is an upper bound of what runs.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "modules"))
ENTRY_FOLDERS = ("tests", "dags", "pipelines", "feature_repo")
COPY_TARGET_S = 2.0


@dataclass(frozen=True)
class Footprint:
    use_case: str
    files: int
    python_lines: int
    src_lines: int
    test_lines: int
    modules: int
    reached: frozenset[str]
    unreached: tuple[str, ...]
    run_reached: frozenset[str]
    sources: dict[str, str]  # each Python file (path and text with the package name replaced)


def render(use_case: str, dst: Path, answers: dict[str, str] | None = None) -> Path:
    """`copier copy --defaults` of this checkout's HEAD for `use_case`, with `answers` on top."""
    import copier

    data = {"use_case": use_case, **(answers or {})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_copy(str(REPO), str(dst), data=data, defaults=True, unsafe=True, quiet=True, vcs_ref="HEAD")
    return dst


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, module: str | None, is_package: bool) -> set[str]:
    """Every module `path` imports (absolute names; relative imports resolved against `module`),
    with `from x import y` also naming `x.y` (y may be a submodule)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and module is not None:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    if module is not None:
        found |= imported_by_name(path, module, is_package)
    return found


RELATIVE_NAME = re.compile(r"^\.+[A-Za-z_][A-Za-z0-9_.]*$")


def _resolve(relative: str, anchor: str) -> str:
    """`.x.y` (or `..x`) against the package `anchor`, as importlib.import_module(name, anchor) does."""
    dots = len(relative) - len(relative.lstrip("."))
    parts = anchor.split(".")
    return ".".join([*parts[: len(parts) - (dots - 1)], relative.lstrip(".")])


def _calls_import_module(node: ast.AST) -> bool:
    """`importlib.import_module(...)` or `import_module(...)` with an argument (not any call whose
    first argument is an f-string starting with a dot, such as `path.with_name(f".{name}.tmp")`)."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    function = node.func
    if isinstance(function, ast.Attribute):
        return function.attr == "import_module"
    return isinstance(function, ast.Name) and function.id == "import_module"


def imported_by_name(path: Path, module: str, is_package: bool) -> set[str]:
    """Modules `path` imports by name: importlib with a relative name (`import_module(".x", package)`,
    or one listed as a string, ".rag.smoke"), and lookups whose last part is only known at run time
    (`import_module(f"{__package__}.samples.{family}")`): the project holds only the modules its
    answers chose under such a folder, so every module under it counts ("<folder>.*")."""
    package = module if is_package else module.rpartition(".")[0]
    root = module.split(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and RELATIVE_NAME.match(node.value):
            # a relative name resolves against the caller's package, or the project's root package
            found.update({_resolve(node.value, package), _resolve(node.value, root)})
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.FormattedValue):
            anchor = node.values[0].value
            if not (isinstance(anchor, ast.Name) and anchor.id in {"__package__", "__name__"}):
                continue
            prefix = package if anchor.id == "__package__" else module
            literal = "".join(
                str(part.value) for part in node.values[1:2] if isinstance(part, ast.Constant)
            )  # fmt: skip
            if len(node.values) > 2 and literal.startswith(".") and literal.endswith("."):
                found.add(f"{prefix}{literal}*")
        elif _calls_import_module(node) and isinstance(node.args[0], ast.JoinedStr):
            parts = node.args[0].values
            if parts and isinstance(parts[0], ast.Constant) and str(parts[0].value) == ".":
                found.add(f"{module if is_package else package}.*")  # import_module(f".{name}", __name__)
    return found


def _sources(project: Path, with_tests: bool = True) -> list[Path]:
    skipped = {".git", "__pycache__"} if with_tests else {".git", "__pycache__", "tests"}
    return [p for p in project.rglob("*.py") if not skipped & set(p.relative_to(project).parts)]


def named_modules(project: Path, package: str, with_tests: bool = True) -> set[str]:
    """Modules the Makefile, the configs or the code start by name (`python -m`, importlib); the
    tests' names count only `with_tests`."""
    sources = _sources(project, with_tests)
    text_files = [project / "Makefile", *(project / "mk").glob("*.mk"), project / "platform.yaml", *sources]
    dotted = re.compile(rf"\b{re.escape(package)}(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
    joined = re.compile(r'package \+ "(\.[A-Za-z_][A-Za-z0-9_.]*)"')  # importlib.import_module(package + ".x")
    # importlib.import_module(f"{PACKAGE}.data.etl"): the DAGs and components name the package's modules
    formatted = re.compile(r'import_module\(f"\{[A-Za-z_]+\}(\.[A-Za-z_][A-Za-z0-9_.]*)"\)')
    # the pipeline's STEPS = "x.steps": the module its components import by name (f"{package}.{steps}")
    steps = re.compile(r'^STEPS = "([A-Za-z_][A-Za-z0-9_.]*)"', re.MULTILINE)
    found: set[str] = set()
    for path in text_files:
        if path.is_file():
            text = path.read_text(encoding="utf-8").replace("$(PACKAGE)", package)
            found.update(dotted.findall(text))
            found.update(package + suffix for suffix in joined.findall(text))
            found.update(package + suffix for suffix in formatted.findall(text))
            found.update(f"{package}.{name}" for name in steps.findall(text))
    found |= loaded_by_path(project)
    return found | {f"{name}.__main__" for name in found}  # `python -m <package>.x` runs x/__main__.py


def loaded_by_path(project: Path) -> set[str]:
    """Package files loaded by path rather than imported (Triton's python models)."""
    by_file = re.compile(r'(?:with_name\(|HERE / )"([A-Za-z_][A-Za-z0-9_]*)\.py"')
    found = set()
    for path in _sources(project):
        if path.is_relative_to(project / "src"):
            module = ".".join(path.relative_to(project / "src").with_suffix("").parts[:-1])
            found.update(f"{module}.{name}" for name in by_file.findall(path.read_text(encoding="utf-8")))
    return found


def reach(project: Path, package: str, with_tests: bool) -> tuple[frozenset[str], tuple[str, ...]]:
    src = project / "src"
    modules = {
        _module_name(path, src): path for path in (src / package).rglob("*.py") if "__pycache__" not in path.parts
    }
    folders = ENTRY_FOLDERS if with_tests else tuple(f for f in ENTRY_FOLDERS if f != "tests")
    entries = [p for folder in folders for p in (project / folder).rglob("*.py") if "__pycache__" not in p.parts]
    frontier = named_modules(project, package, with_tests) | {f"{package}.smoke.__main__"}
    for entry in entries:
        frontier |= imported_modules(entry, None, False)
    reached: set[str] = set()
    while frontier:
        name = frontier.pop()
        if name.endswith(".*"):  # every module under a folder the code looks up by name
            frontier |= {m for m in modules if m.startswith(name[:-1])}
            continue
        # importing a.b.c runs a/__init__, a/b/__init__ too
        parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for candidate in {name, *parents}:
            if candidate in modules and candidate not in reached:
                reached.add(candidate)
                path = modules[candidate]
                frontier |= imported_modules(path, candidate, path.name == "__init__.py")
    return frozenset(reached), tuple(sorted(set(modules) - reached))


# Loaded by every Python process the run starts (PYTHONPATH): at exit (also os._exit, which forked
# workers use) it writes the names of the modules the process imported, and the real name of the
# module it ran as __main__ (`python -m <package>.x`).
RECORDER = """
import atexit, os, sys

def _record_modules():
    folder = os.environ.get("FOOTPRINT_DIR")
    if not folder:
        return
    names = set(sys.modules)
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        names.add(spec.name)
    try:
        with open(os.path.join(folder, "modules-%d.txt" % os.getpid()), "w") as handle:
            handle.write("\\n".join(sorted(names)))
    except OSError:
        pass

_exit = os._exit

def _recording_exit(code):
    _record_modules()
    _exit(code)

os._exit = _recording_exit
atexit.register(_record_modules)

if os.environ.get("COVERAGE_PROCESS_START"):  # --lines: coverage.py in every process (its rc file)
    try:
        import coverage
        coverage.process_startup()
    except Exception as error:  # a process that cannot measure still runs
        sys.stderr.write("footprint: coverage not started: %s\\n" % error)
"""

# --lines: coverage's settings for every process of the run. `patch = _exit, fork` saves the data
# of forked workers and of processes that leave with os._exit (Airflow's task runners, Triton's).
COVERAGE_RC = """[run]
parallel = True
data_file = {data}
source = {package}
patch = _exit, fork
"""
# Files that run where coverage cannot see them: Triton loads its python models (a TritonPythonModel
# class) from a copy in the model repository and stops their processes with a signal, and kfp sends
# a component function's source text to its executor (training/components.py).
TRITON_MODEL = "class TritonPythonModel"
KFP_COMPONENTS = "components.py"


def runs_out_of_sight(path: Path) -> bool:
    if path.name == KFP_COMPONENTS:
        return True
    return path.is_file() and TRITON_MODEL in path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class LineUse:
    statements: int
    run: int
    never_run: dict[str, int]  # "path:function" -> statements, functions of which no line ran
    out_of_sight: dict[str, int]  # path -> statements, files coverage cannot measure (runs_out_of_sight)


def line_use(report: dict[str, Any], package_dir: Path) -> LineUse:
    """Statements run and functions never run, from coverage's JSON report (`coverage json`, 7.5+)."""
    statements = run = 0
    never_run: dict[str, int] = {}
    out_of_sight: dict[str, int] = {}
    for filename, info in report["files"].items():
        path = Path(filename)
        name = str(path.relative_to(package_dir)) if path.is_relative_to(package_dir) else filename
        summary = info["summary"]
        if runs_out_of_sight(path):
            out_of_sight[name] = summary["num_statements"]
            continue
        statements += summary["num_statements"]
        run += summary["covered_lines"]
        for function, entry in info.get("functions", {}).items():
            counts = entry["summary"]
            if function and counts["num_statements"] and not counts["covered_lines"]:
                never_run[f"{name}:{function}"] = counts["num_statements"]
    return LineUse(statements, run, never_run, out_of_sight)


def coverage_report(folder: Path, package_dir: Path) -> dict[str, Any]:
    """Combine the processes' data files under `folder` and return coverage's JSON report."""
    import coverage

    measured = coverage.Coverage(data_file=str(folder / ".coverage"), config_file=False)
    measured.combine([str(folder)], keep=True)
    measured.save()
    output = folder / "coverage.json"
    measured.json_report(outfile=str(output), include=[f"{package_dir}/*"], show_contexts=False)
    loaded: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    return loaded


def recorder_env(logs: Path, package: str, lines: bool) -> dict[str, str]:
    """The environment that makes every Python process record into `logs`: the modules it imported
    (logs/modules) and, with `lines`, coverage.py's data (logs/lines)."""
    (logs / "modules").mkdir(parents=True, exist_ok=True)
    (logs / "sitecustomize.py").write_text(RECORDER, encoding="utf-8")
    env = {**os.environ, "FOOTPRINT_DIR": str(logs / "modules")}
    if lines:
        import coverage

        # the project's own environment lacks coverage (and `make setup` would remove it): its
        # processes import this one's from beside the sitecustomize
        link = logs / "coverage"
        if not link.exists():
            link.symlink_to(Path(coverage.__file__).parent, target_is_directory=True)
        (logs / "lines").mkdir(exist_ok=True)
        rc = logs / "coveragerc"
        rc.write_text(COVERAGE_RC.format(data=logs / "lines" / ".coverage", package=package), encoding="utf-8")
        env["COVERAGE_PROCESS_START"] = str(rc)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(logs), env.get("PYTHONPATH")]))
    return env


def runtime_modules(
    project: Path, package: str, targets: list[str], lines: bool = False
) -> tuple[set[str], dict[str, int], LineUse | None]:
    """The package's modules that `make <targets>` really imported, each target's exit status, and
    with `lines` the statements that ran (coverage.py in every process)."""
    logs = project.parent / f"{project.name}-footprint"  # outside .local/, which the smoke may clean
    recorded = logs / "modules"
    env = recorder_env(logs, package, lines)
    env.pop("VIRTUAL_ENV", None)
    statuses = {}
    for target in ["setup", *targets]:
        with (logs / f"{target}.log").open("w", encoding="utf-8") as log:
            statuses[target] = subprocess.run(
                ["make", "--no-print-directory", target], cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT,
                timeout=3600, check=False,
            ).returncode  # fmt: skip
    imported = {
        name
        for path in recorded.glob("modules-*.txt")
        for name in path.read_text(encoding="utf-8").splitlines()
        if name.split(".")[0] == package
    }
    source = project / "src" / package
    modules = {_module_name(p, project / "src") for p in source.rglob("*.py")}
    used = line_use(coverage_report(logs / "lines", source), source) if lines else None
    return (imported | loaded_by_path(project)) & modules, statuses, used


def footprint(use_case: str, project: Path) -> Footprint:
    import yaml

    package = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))["project"]["package"]
    files = [p for p in project.rglob("*") if p.is_file() and ".git" not in p.parts]
    texts = {p: p.read_text(encoding="utf-8") for p in files if p.suffix == ".py"}
    lines = {p: len(text.splitlines()) for p, text in texts.items()}
    sources = {
        str(p.relative_to(project)).replace(package, "<package>"): text.replace(package, "<package>")
        for p, text in texts.items()
    }
    reached, unreached = reach(project, package, with_tests=True)
    run_reached, _ = reach(project, package, with_tests=False)
    return Footprint(
        use_case=use_case,
        files=len(files),
        python_lines=sum(lines.values()),
        src_lines=sum(n for p, n in lines.items() if p.is_relative_to(project / "src")),
        test_lines=sum(n for p, n in lines.items() if p.is_relative_to(project / "tests")),
        modules=len(reached) + len(unreached),
        reached=reached,
        unreached=unreached,
        run_reached=run_reached,
        sources=sources,
    )


def shared_lines(result: Footprint, others: list[Footprint]) -> int:
    """Python lines of `result` in files that every other project holds with the same text (the
    package name aside): the runtime all these use cases share, against what their answers chose."""
    return sum(
        len(text.splitlines())
        for path, text in result.sources.items()
        if all(other.sources.get(path) == text for other in others)
    )


def line_row(use_case: str, used: LineUse) -> list[object]:
    share = f"{used.run / used.statements:.0%}" if used.statements else "-"
    hidden = ", ".join(f"{name} {count}" for name, count in sorted(used.out_of_sight.items()))
    return [use_case, used.statements, used.run, share, sum(used.never_run.values()), hidden or "-"]


def copy_seconds(runs: int) -> list[float]:
    copier = Path(sys.executable).parent / "copier"
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(runs):
            started = time.perf_counter()
            subprocess.run(
                [
                    str(copier),
                    "copy",
                    "--trust",
                    "--defaults",
                    "--quiet",
                    "--vcs-ref",
                    "HEAD",
                    str(REPO),
                    f"{tmp}/{index}",
                ],
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - started)
    return times


def main(argv: list[str]) -> int:
    from platform_engine.tables import use_cases

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--use-cases", nargs="*", default=use_cases(), help="default: every use case")
    parser.add_argument("--unreached", action="store_true", help="list the modules nothing reaches")
    parser.add_argument("--copy-runs", type=int, default=0, help="also time `copier copy --defaults` N times")
    parser.add_argument("--runtime", action="store_true", help="run the project's tests and smoke (minutes)")
    parser.add_argument(
        "--targets", nargs="*", default=["test", "test-stack", "smoke"], help="make targets for --runtime"
    )
    parser.add_argument("--lines", action="store_true", help="with --runtime: statements run (coverage.py)")
    parser.add_argument("--unrun", action="store_true", help="with --lines: list the functions that never ran")
    parser.add_argument("--keep", type=Path, help="render into this folder and keep the projects")
    parser.add_argument(
        "--data", nargs="*", default=[], metavar="KEY=VALUE", help="answers for every render (serving_pattern=edge)"
    )
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.data):
        parser.error("--data takes KEY=VALUE answers, e.g. --data serving_pattern=edge")
    answers = dict(item.split("=", 1) for item in args.data)
    if args.lines and not args.runtime:
        parser.error("--lines measures a run: add --runtime")
    rows, found, used_rows, line_rows = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for use_case in args.use_cases:
            project = render(use_case, root / use_case, answers)
            result = footprint(use_case, project)
            found.append(result)
            run_share = len(result.run_reached) / result.modules
            share = len(result.reached) / result.modules
            rows.append(
                [
                    use_case,
                    result.files,
                    result.python_lines,
                    result.src_lines,
                    result.test_lines,
                    result.modules,
                    f"{run_share:.0%}",
                    f"{share:.0%}",
                    len(result.unreached),
                ]
            )
            if args.runtime:
                package = sorted(result.reached)[0].split(".")[0]
                used, statuses, line_counts = runtime_modules(project, package, args.targets, args.lines)
                modules = set(result.reached) | set(result.unreached)
                unused = sorted(modules - used)
                lines = sum(
                    _lines(project / "src" / (name.replace(".", "/") + ".py"))
                    for name in unused
                    if (project / "src" / (name.replace(".", "/") + ".py")).is_file()
                )
                status = ", ".join(f"{target} {code}" for target, code in statuses.items())
                used_rows.append([use_case, len(modules), len(used), f"{len(used) / len(modules):.0%}", lines, status])
                print(f"{use_case}: modules no test or smoke process imported: {', '.join(unused) or '-'}")
                if line_counts is not None:
                    line_rows.append(line_row(use_case, line_counts))
                    if args.unrun:
                        print(f"{use_case}: functions of which no line ran (statements):")
                        for function, count in sorted(line_counts.never_run.items()):
                            print(f"  {function} ({count})")
    headers = ["use case", "files", "Python lines", "src", "tests", "modules", "run", "run+tests", "unreached"]
    if len(found) > 1:
        headers.append(f"lines the same in all {len(found)}")
        for row, result in zip(rows, found, strict=True):
            row.append(shared_lines(result, [other for other in found if other is not result]))
    print("static reach (upper bound; run = without the tests):")
    print(tabulate(rows, headers=headers, tablefmt="github"))
    if used_rows:
        print("\nimported at run time by `make " + " ".join(args.targets) + "`:")
        headers = ["use case", "modules", "imported", "share", "lines never imported", "exit status"]
        print(tabulate(used_rows, headers=headers, tablefmt="github"))
    if line_rows:
        print("\nstatements of the package run by `make " + " ".join(args.targets) + "` (coverage.py):")
        headers = ["use case", "statements", "run", "share", "in functions never run", "out of sight"]
        print(tabulate(line_rows, headers=headers, tablefmt="github"))
        print("out of sight: Triton's python models and the kfp components, which run from copies (not counted)")
    if args.unreached:
        for result in found:
            print(f"\n{result.use_case}: {len(result.unreached)} module(s) nothing reaches")
            for name in result.unreached:
                print(f"  {name}")
            only_tests = sorted(result.reached - result.run_reached)
            print(f"{result.use_case}: {len(only_tests)} module(s) only the tests reach")
            for name in only_tests:
                print(f"  {name}")
    if args.copy_runs:
        times = copy_seconds(args.copy_runs)
        print(
            f"\ncopier copy --defaults: median {statistics.median(times):.2f} s over {len(times)} runs "
            f"(min {min(times):.2f} s; target {COPY_TARGET_S:g} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

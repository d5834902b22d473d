"""What keeps `copier copy` fast (ci/bench_render.py measures it): the extension compiles each
template string once per run, keeps compiled templates in a bytecode cache that later runs load from
(whichever folder Copier cloned the template into), decides once per set of answers, works out once per
render what Copier recomputes per file (the destination's file mode, the answers file's path, each path
part), and the engine parses its tables with libyaml when it can."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from copier._jinja_ext import YieldExtension, get_yield_context
from copier_extension import TemplateCodeCache, ask_once_per_render, decisions_for, memoize_compile
from platform_engine import tables

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "ci"))
from releases import git  # noqa: E402


def _counting_environment(
    cache: jinja2.BytecodeCache | None = None, folder: Path | None = None, **options: Any
) -> tuple[jinja2.Environment, list[str]]:
    loader = jinja2.FileSystemLoader(folder) if folder else None
    environment = jinja2.Environment(extensions=[YieldExtension], loader=loader, bytecode_cache=cache, **options)
    compiled: list[str] = []
    original = environment.compile

    def counting(source: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(str(source))
        return original(source, *args, **kwargs)

    environment.compile = counting  # type: ignore[method-assign]
    memoize_compile(environment)
    return environment, compiled


@pytest.mark.engine
def test_a_template_string_compiles_once_and_renders_the_same() -> None:
    environment, compiled = _counting_environment()
    first = [environment.from_string("{{ a }}-{{ b }}").render(a=i, b="x") for i in range(3)]
    assert first == ["0-x", "1-x", "2-x"]
    assert compiled == ["{{ a }}-{{ b }}"]
    assert environment.from_string("{{ a }}").render(a="y") == "y"
    assert len(compiled) == 2, "a different string is compiled"


@pytest.mark.engine
def test_copier_yield_state_is_reset_on_every_compile_also_from_the_cache() -> None:
    """Copier's yield tag keeps state on the environment and resets it in `preprocess`: a cached
    compile must still reset it, or the next path would be taken for a yield path."""
    environment, _ = _counting_environment()
    source = "{% yield item from items %}{{ item }}{% endyield %}"
    for _ in range(2):
        environment.from_string(source).render(items=["a", "b"])
        assert get_yield_context(environment).yield_name == "item"
        environment.from_string("plain")
        assert get_yield_context(environment).yield_name is None


def _path_parts() -> set[str]:
    """Every part of every path in the template, as Copier compiles them."""
    return {part for path in (REPO / "template").rglob("*") for part in path.relative_to(REPO / "template").parts}


@pytest.mark.engine
def test_text_without_template_syntax_renders_as_jinja_renders_it_without_its_compiler() -> None:
    environment, compiled = _counting_environment(keep_trailing_newline=True)
    plain = jinja2.Environment(keep_trailing_newline=True)
    parts = _path_parts()
    texts = {part for part in parts if not any(mark in part for mark in ("{{", "{%", "{#"))}
    assert len(texts) > 100, "the template's plain path parts"
    for text in sorted(texts | {"it's \\ a 'quoted' \"name\"", "ünïcode-名前.md", "{ a }", "%} #}"}):
        assert environment.from_string(text).render() == plain.from_string(text).render() == text
    assert compiled == [], "no plain text reached Jinja's compiler"
    syntax = ["{{ a }}.md", "{% if a %}x{% endif %}", "{# note #}x", "line\nbreak", "trailing\n", ""]
    for text in syntax:
        assert environment.from_string(text).render(a=1) == plain.from_string(text).render(a=1)
    assert compiled == syntax, "template syntax, newlines and empty strings go through Jinja"


@pytest.mark.engine
def test_plain_text_is_compiled_when_the_syntax_makes_it_template() -> None:
    statements, compiled = _counting_environment(line_statement_prefix="%%")
    assert statements.from_string("%% set a = 1").render() == ""
    other, compiled_other = _counting_environment(variable_start_string="[[", variable_end_string="]]")
    assert other.from_string("[[ a ]]").render(a="x") == "x"
    assert other.from_string("{{ a }}").render() == "{{ a }}"
    assert (compiled, compiled_other) == (["%% set a = 1"], ["[[ a ]]"])


@pytest.mark.engine
@pytest.mark.parametrize("name", tables.TABLE_NAMES)
def test_tables_parse_the_same_with_libyaml(name: str) -> None:
    text = (tables.DATA_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    assert yaml.load(text, Loader=tables.SAFE_LOADER) == yaml.load(text, Loader=yaml.SafeLoader)


def _clone(tmp_path: Path, name: str, text: str) -> Path:
    """A template folder, as Copier clones one for each run (a new path every time)."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "README.md.jinja").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.engine
def test_a_later_run_loads_compiled_templates_from_another_clone(tmp_path: Path) -> None:
    cache = TemplateCodeCache(str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    first, compiled = _counting_environment(cache, _clone(tmp_path, "clone1", "# {{ name }}"))
    assert first.get_template("README.md.jinja").render(name="a") == "# a"
    assert first.from_string("{{ name }}.md").render(name="a") == "a.md"
    assert len(compiled) == 2
    second, compiled = _counting_environment(cache, _clone(tmp_path, "clone2", "# {{ name }}"))
    assert second.get_template("README.md.jinja").render(name="b") == "# b"
    assert second.from_string("{{ name }}.md").render(name="b") == "b.md"
    assert compiled == [], "the second clone compiled what the first one had cached"


@pytest.mark.engine
def test_a_changed_template_or_syntax_is_compiled_again(tmp_path: Path) -> None:
    cache = TemplateCodeCache(str(tmp_path))
    _counting_environment(cache, _clone(tmp_path, "v1", "# {{ name }}"))[0].get_template("README.md.jinja")
    edited, compiled = _counting_environment(cache, _clone(tmp_path, "v2", "# {{ name }}!"))
    assert edited.get_template("README.md.jinja").render(name="a") == "# a!"
    other_syntax, compiled_again = _counting_environment(
        cache, _clone(tmp_path, "v3", "# [[ name ]]"), variable_start_string="[[", variable_end_string="]]"
    )
    assert other_syntax.get_template("README.md.jinja").render(name="a") == "# a"
    assert (len(compiled), len(compiled_again)) == (1, 1)


@pytest.mark.engine
def test_copier_yield_state_is_reset_also_from_another_runs_cache(tmp_path: Path) -> None:
    cache = TemplateCodeCache(str(tmp_path))
    source = "{% yield item from items %}{{ item }}{% endyield %}"
    _counting_environment(cache)[0].from_string(source).render(items=["a"])
    environment, compiled = _counting_environment(cache)
    environment.from_string(source).render(items=["a", "b"])
    assert get_yield_context(environment).yield_name == "item"
    environment.from_string("plain")
    assert get_yield_context(environment).yield_name is None
    assert compiled == [], "the yield template came from the first environment's cache (and text needs no compiler)"


@pytest.mark.engine
def test_a_cache_folder_that_cannot_be_written_does_not_break_a_render(tmp_path: Path) -> None:
    cache = TemplateCodeCache(str(tmp_path / "missing"))
    environment, compiled = _counting_environment(cache, _clone(tmp_path, "clone", "# {{ name }}"))
    assert environment.get_template("README.md.jinja").render(name="a") == "# a"
    assert environment.from_string("{{ name }}").render(name="b") == "b"
    assert len(compiled) == 2


@pytest.mark.engine
def test_entries_older_than_the_limit_are_pruned_and_others_kept(tmp_path: Path) -> None:
    cache = TemplateCodeCache(str(tmp_path))
    _counting_environment(cache, _clone(tmp_path, "clone", "# {{ name }}"))[0].get_template("README.md.jinja")
    (entry,) = tmp_path.glob(TemplateCodeCache.PREFIX + "*")
    stale = tmp_path / f"{TemplateCodeCache.PREFIX}stale.cache"
    foreign = tmp_path / "__jinja2_someone_else.cache"
    for path in (stale, foreign):
        path.write_bytes(b"x")
        os.utime(path, (0, time.time() - (TemplateCodeCache.MAX_AGE_DAYS + 1) * 86400))
    assert cache.prune() == 1
    assert entry.exists() and foreign.exists() and not stale.exists()
    assert cache.prune(now=time.time() + (TemplateCodeCache.MAX_AGE_DAYS + 1) * 86400) == 1
    assert not entry.exists()


@pytest.mark.engine
def test_decisions_follow_the_answers_of_each_render() -> None:
    answers = {
        "project_name": "Churn Prediction",
        "use_case": "tabular",
        "monthly_requests": 1_000_000,
        "peak_rps": 20.0,
        "latency_p95_ms": 200,
        "cloud": "aws",
    }
    aws = decisions_for(answers)
    assert decisions_for(dict(answers)) is aws, "the same answers are decided once"
    gcp = decisions_for(answers | {"cloud": "gcp"})
    assert gcp is not aws and gcp["cloud"] != aws["cloud"]
    answers["cloud"] = "gcp"  # Copier may change an answer in place between renders
    assert decisions_for(answers) == gcp


# Runs a default copy in a fresh process and prints, as JSON, how often Copier really worked out the
# answers file's path and rendered a string (and how many distinct strings); installed before the
# extension loads, so the extension wraps these counters.
_COUNTED_COPY = """
import collections, json, sys, warnings
import copier
from copier._main import Worker

answers_paths = 0
strings = collections.Counter()
answers_relpath = Worker.answers_relpath.fget
render_string = Worker._render_string

def counted_answers_path(self):
    global answers_paths
    answers_paths += 1
    return answers_relpath(self)

def counted_render(self, string, extra_context=None):
    strings[string] += 1
    return render_string(self, string, extra_context)

Worker.answers_relpath = property(counted_answers_path)
Worker._render_string = counted_render
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    copier.run_copy(sys.argv[1], sys.argv[2], defaults=True, unsafe=True, quiet=True, vcs_ref="HEAD")
print(json.dumps({"answers_paths": answers_paths, "renders": sum(strings.values()), "distinct": len(strings)}))
"""


@pytest.mark.render
def test_a_render_works_out_the_file_mode_answers_path_and_each_path_part_once(tmp_path: Path) -> None:
    """Copier alone starts `git config --get core.fileMode` once per written file (204 here),
    renders the answers file's path about 1,300 times and its path parts about 1,600 times."""
    log = tmp_path / "git-calls.log"
    shims = tmp_path / "bin"
    shims.mkdir()
    git = shims / "git"
    git.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{shutil.which("git")}" "$@"\n', encoding="utf-8")
    git.chmod(0o755)
    environment = os.environ | {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}
    destination = tmp_path / "project"
    command = [sys.executable, "-c", _COUNTED_COPY, str(REPO), str(destination)]
    counts = json.loads(subprocess.run(command, check=True, env=environment, capture_output=True, text=True).stdout)
    asked = [line for line in log.read_text(encoding="utf-8").splitlines() if "core.fileMode" in line]
    assert len(asked) == 1, f"{len(asked)} `git config core.fileMode` calls for one render"
    assert counts["answers_paths"] == 1, f"the answers file's path was rendered {counts['answers_paths']} times"
    assert counts["renders"] == counts["distinct"] > 100, f"strings rendered more than once: {counts}"
    assert (destination / ".copier-answers.yml").is_file()
    assert sum(1 for path in destination.rglob("*") if path.is_file()) > 100


@pytest.mark.render
def test_a_remembered_string_resets_the_loop_state_a_yield_part_left(tmp_path: Path) -> None:
    """Copier reads the yield state after each path part: a part the render remembers must leave it
    as rendering it would (no loop), also right after a part that opened one."""
    import copier_extension
    from copier._main import Worker

    assert ask_once_per_render(), "Copier's methods changed: the extension wraps nothing"
    (tmp_path / "copier.yml").write_text("sections:\n  type: yaml\n  default: [intro]\n", encoding="utf-8")
    with Worker(src_path=str(tmp_path), dst_path=str(tmp_path / "out"), defaults=True, quiet=True) as worker:
        state = get_yield_context(worker.jinja_env)
        token = copier_extension._RENDER.set(copier_extension._RenderScope(worker))
        try:
            assert worker._render_string("docs") == "docs"
            worker._render_string("{% yield section from sections %}{{ section }}{% endyield %}")
            assert state.yield_name == "section"
            assert worker._render_string("docs") == "docs"
            assert state.yield_name is None, "a remembered part left the previous part's loop open"
        finally:
            copier_extension._RENDER.reset(token)


@pytest.mark.render
def test_remembered_path_parts_leave_copiers_yield_loops_as_they_were(tmp_path: Path) -> None:
    """A yield folder's part is rendered every time (Copier reads its loop state); a plain part seen
    before comes from the render's memory and still resets that state, so it is not looped."""
    import copier

    assert ask_once_per_render(), "Copier's methods changed: the extension wraps nothing"
    template = tmp_path / "template"
    (template / "docs").mkdir(parents=True)
    (template / "copier.yml").write_text(
        "_templates_suffix: .jinja\nsections:\n  type: yaml\n  default: [intro, usage]\n", encoding="utf-8"
    )
    loop = template / "{% yield section from sections %}{{ section }}{% endyield %}"
    for folder in (loop, template / "docs", template / "docs" / "{{ 'api' }}"):
        folder.mkdir(exist_ok=True)
        for name in ("a.md.jinja", "b.md.jinja", "{{ 'c' }}.md.jinja"):
            (folder / name).write_text("{{ section | default('-') }}\n", encoding="utf-8")
    destination = tmp_path / "project"
    copier.run_copy(str(template), str(destination), defaults=True, quiet=True)
    written = {str(path.relative_to(destination)): path.read_text() for path in destination.rglob("*.md")}
    folders = {"docs": "-", "docs/api": "-", "intro": "intro", "usage": "usage"}
    names = ("a.md", "b.md", "c.md")
    assert written == {f"{folder}/{name}": f"{text}\n" for folder, text in folders.items() for name in names}


@pytest.mark.render
@pytest.mark.parametrize(("file_mode", "index_mode"), [("false", "100755"), ("true", "100644")])
def test_executable_bits_still_reach_the_index_where_git_ignores_file_modes(
    tmp_path: Path, file_mode: str, index_mode: str
) -> None:
    """Copier's own behaviour, through the once-per-render lookup: with `core.fileMode=false` the
    index takes the template's executable bit; otherwise git sees the chmod on disk (unstaged)."""
    import copier

    assert ask_once_per_render(), "Copier's methods changed: the lookup wraps nothing"
    template = tmp_path / "template"
    template.mkdir()
    (template / "copier.yml").write_text("_templates_suffix: .jinja\n", encoding="utf-8")
    script = template / "run.sh"
    script.write_text("#!/bin/sh\necho new\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    destination = tmp_path / "project"
    destination.mkdir()
    git(destination, "init", "-q")
    git(destination, "config", "core.fileMode", file_mode)
    (destination / "run.sh").write_text("#!/bin/sh\necho old\n", encoding="utf-8")
    git(destination, "add", "run.sh")
    copier.run_copy(str(template), str(destination), defaults=True, overwrite=True, quiet=True)
    assert (destination / "run.sh").read_text(encoding="utf-8").endswith("echo new\n")
    assert git(destination, "ls-files", "--stage", "run.sh").split()[0] == index_mode


@pytest.mark.engine
def test_every_jinja_file_holds_template_syntax() -> None:
    """A file without `{{`, `{%` or `{#` is copied as it is: rendering it only costs a compile."""
    plain = [
        str(path.relative_to(REPO))
        for path in (REPO / "template").rglob("*.jinja")
        if not any(marker in path.read_text(encoding="utf-8") for marker in ("{{", "{%", "{#"))
    ]
    assert plain == [], f"drop the .jinja suffix of {plain}"

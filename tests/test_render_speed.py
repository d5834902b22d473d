"""What keeps `copier copy` fast (ci/bench_render.py measures it): the extension compiles each
template string once per run, and the engine parses its tables with libyaml when it can."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest
import yaml
from copier._jinja_ext import YieldExtension, get_yield_context
from copier_extension import memoize_compile
from platform_engine import tables


def _counting_environment() -> tuple[jinja2.Environment, list[str]]:
    environment = jinja2.Environment(extensions=[YieldExtension])
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


@pytest.mark.engine
@pytest.mark.parametrize("name", tables.TABLE_NAMES)
def test_tables_parse_the_same_with_libyaml(name: str) -> None:
    text = (tables.DATA_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    assert yaml.load(text, Loader=tables.SAFE_LOADER) == yaml.load(text, Loader=yaml.SafeLoader)

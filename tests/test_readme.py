"""The configuration examples in README.md are valid configuration."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from incidentbot.config import parse_config

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```toml\n(.*?)```", README.read_text(), re.DOTALL)


def test_readme_has_toml_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("block", BLOCKS)
def test_readme_toml_example_loads(block: str) -> None:
    parse_config(tomllib.loads(block), "README.md")


def test_example_config_file_loads() -> None:
    path = README.with_name("incidentbot.toml")
    parse_config(tomllib.loads(path.read_text()), str(path))

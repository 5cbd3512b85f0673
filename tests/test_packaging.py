"""The three records of the dependencies agree: pyproject.toml, constraints.txt, the conda file."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)$")


def _pins(lines: list[str]) -> dict[str, str]:
    """{normalised name: version} of ``name[extras]==version`` lines; others are refused."""
    pins = {}
    for line in lines:
        match = PIN.match(line.strip())
        assert match, f"not an exact pin: {line!r}"
        pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return pins


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return _pins(project["dependencies"] + project["optional-dependencies"]["test"])


def test_constraints_record_every_pyproject_pin_at_its_version():
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    constraints = _pins([x for x in lines if x.strip() and not x.startswith("#")])
    direct = _pyproject()
    assert {k: constraints.get(k) for k in direct} == direct
    assert len(constraints) > len(direct)  # the transitive packages are recorded too


def test_conda_environment_carries_the_pyproject_runtime_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "envs" / "exp2simgan.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip) == _pins(project["dependencies"])

"""The three records of the dependencies agree: pyproject.toml's ranges, the exact versions of
constraints.txt (the lock), and the conda file."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)$")


def _pins(lines: list[str]) -> dict[str, str]:
    """{normalised name: version} of ``name[extras]==version`` lines; others are refused."""
    pins = {}
    for line in lines:
        match = PIN.match(line.strip())
        assert match, f"not an exact pin: {line!r}"
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def _requirements(*groups: str) -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [
        line
        for group in groups
        for line in (
            project["dependencies"]
            if group == "runtime"
            else project["optional-dependencies"][group]
        )
    ]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def _lock() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return _pins([x for x in lines if x.strip() and not x.startswith("#")])


def test_pyproject_states_ranges_not_exact_pins():
    for name, requirement in _requirements("runtime", "test").items():
        assert requirement.specifier, f"{name} has no version range"
        assert not any(s.operator == "==" for s in requirement.specifier), name


def test_the_lock_records_every_dependency_inside_its_range():
    lock = _lock()
    for name, requirement in _requirements("runtime", "test").items():
        assert name in lock, f"constraints.txt has no version of {name}"
        assert lock[name] in requirement.specifier, f"{name}=={lock[name]} not in {requirement}"
    assert len(lock) > len(_requirements("runtime", "test"))  # transitive packages too


@pytest.mark.parametrize("line", ["scipy>=1.11,<1.18", "pot>=0.9.6", "torch>=2.4,<3"])
def test_the_known_constraints_are_stated(line):
    wanted = Requirement(line)
    assert _requirements("runtime")[canonicalize_name(wanted.name)].specifier == wanted.specifier


def test_conda_environment_carries_the_locked_runtime_versions():
    env = yaml.safe_load((ROOT / "envs" / "exp2simgan.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    lock = _lock()
    assert _pins(pip) == {name: lock[name] for name in _requirements("runtime")}

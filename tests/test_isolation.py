"""Each member installs without the other domains' stacks.

The tables are derived from the members' own ``packages/*/pyproject.toml``, so a new package
needs no edit here:

- a domain's *own stack* is what it declares at runtime, other than dllab packages, that no
  other member declares (dllab-rl declares gymnasium, dllab-gp declares gpytorch);
- a member must not pull in another domain package or another domain's own stack, nor the
  stacks of the domains still to come (``FUTURE_DOMAINS``) unless it declares them itself;
- a member must pull in everything it declares.

The check reads the committed uv.lock: the runtime dependency closure of each member (no dev
groups) must hold no forbidden distribution. Run as a script inside a package's own
environment (``python tests/test_isolation.py dllab-rl``), it checks the installed
distributions there instead; .ci/run does that after syncing each package alone.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = "dllab-core"
FUTURE_DOMAINS = {"dllab-vision": {"torchvision"}, "dllab-nlp": {"tokenizers"}}
"""Domains planned but not in the workspace yet, with their stacks."""

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def requirement_name(spec: str) -> str:
    """The normalized distribution name of a requirement such as ``"gymnasium>=1.0"``."""
    match = _NAME.match(spec)
    if match is None:
        raise ValueError(f"cannot read a distribution name from the requirement {spec!r}")
    return _norm(match.group(1))


def declared_dependencies(root: Path = ROOT) -> dict[str, dict[str, str]]:
    """``{member: {dependency: requirement}}`` from each ``packages/*/pyproject.toml``."""
    declared = {}
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        specs = project.get("dependencies", [])
        declared[_norm(project["name"])] = {requirement_name(s): s for s in specs}
    return declared


def own_stacks(declared: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    """Each domain's own stack, for the workspace's domains and the ``FUTURE_DOMAINS``."""
    stacks = {}
    for member, deps in declared.items():
        if member == CORE:
            continue
        others = set().union(*(set(d) for m, d in declared.items() if m != member))
        stacks[member] = {d for d in deps if not d.startswith("dllab-") and d not in others}
    for domain, stack in FUTURE_DOMAINS.items():
        stacks.setdefault(domain, set(stack))
    return stacks


def isolation_tables(root: Path = ROOT) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``(forbidden, required)`` distribution names for every member under ``root/packages``."""
    declared = declared_dependencies(root)
    stacks = own_stacks(declared)
    forbidden, required = {}, {}
    for member, deps in declared.items():
        other_domains = set(stacks) - {member}
        other_stacks = set().union(*(stacks[d] for d in other_domains))
        forbidden[member] = other_domains | (other_stacks - set(deps))
        # a requirement with an environment marker may not apply here, so it is not required
        required[member] = {name for name, spec in deps.items() if ";" not in spec}
    return forbidden, required


FORBIDDEN, REQUIRED = isolation_tables()


def lock_closure(member: str) -> set[str]:
    """Names of every distribution ``member`` pulls in at runtime, from uv.lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {_norm(p["name"]): p for p in lock["package"]}
    seen: set[str] = set()
    todo = [_norm(member)]
    if todo[0] not in packages:
        raise LookupError(f"{member} is not in uv.lock: run `uv lock` and commit uv.lock")
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_norm(dep["name"]) for dep in packages[name].get("dependencies", []))
    return seen


TODAY_FORBIDDEN = {
    "dllab-core": {"torchvision", "tokenizers", "gpytorch", "gymnasium"}
    | {"dllab-vision", "dllab-nlp", "dllab-rl", "dllab-gp"},
    "dllab-rl": {"torchvision", "tokenizers", "gpytorch", "dllab-vision", "dllab-nlp", "dllab-gp"},
    "dllab-gp": {"torchvision", "tokenizers", "gymnasium", "dllab-vision", "dllab-nlp", "dllab-rl"},
}
"""The tables as they were written by hand before they were derived."""


def _workspace(root: Path, members: dict[str, list[str]]) -> Path:
    for name, deps in members.items():
        folder = root / "packages" / name
        folder.mkdir(parents=True)
        listed = ", ".join(f'"{d}"' for d in deps)
        text = f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = [{listed}]\n'
        (folder / "pyproject.toml").write_text(text)
    return root


CORE_DEPS = ["torch>=2.4", "lightning>=2.4", "numpy>=1.26", "jupytext>=1.16"]
TODAY = {
    "dllab-core": CORE_DEPS,
    "dllab-rl": ["dllab-core>=0.1,<0.2", "gymnasium>=1.0"],
    "dllab-gp": ["dllab-core>=0.1,<0.2", "gpytorch>=1.11"],
}


def test_every_member_has_tables():
    members = {p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists()}
    assert set(FORBIDDEN) == set(REQUIRED) == members


def test_derived_tables_keep_todays_rules():
    for member, expected in TODAY_FORBIDDEN.items():
        assert expected <= FORBIDDEN[member], sorted(expected - FORBIDDEN[member])
    assert {"torch", "lightning"} <= REQUIRED["dllab-core"]
    assert {"dllab-core", "gymnasium"} <= REQUIRED["dllab-rl"]
    assert {"dllab-core", "gpytorch"} <= REQUIRED["dllab-gp"]


def test_derivation_gives_todays_tables_exactly(tmp_path):
    forbidden, required = isolation_tables(_workspace(tmp_path, TODAY))
    assert forbidden == TODAY_FORBIDDEN
    assert required["dllab-rl"] == {"dllab-core", "gymnasium"}
    assert required["dllab-gp"] == {"dllab-core", "gpytorch"}
    assert required["dllab-core"] == {"torch", "lightning", "numpy", "jupytext"}


def test_a_new_member_is_picked_up_without_editing_anything(tmp_path):
    members = {**TODAY, "dllab-audio": ["dllab-core>=0.1,<0.2", "torchaudio", "numpy>=1.26"]}
    forbidden, required = isolation_tables(_workspace(tmp_path, members))
    for other in ("dllab-core", "dllab-rl", "dllab-gp"):
        assert {"dllab-audio", "torchaudio"} <= forbidden[other], other
        assert "numpy" not in forbidden[other]  # declared by core too: nobody's own stack
    assert forbidden["dllab-audio"] == TODAY_FORBIDDEN["dllab-core"]
    assert required["dllab-audio"] == {"dllab-core", "torchaudio", "numpy"}


def test_a_future_domain_stack_is_allowed_to_whoever_declares_it(tmp_path):
    members = {**TODAY, "dllab-vision": ["dllab-core>=0.1,<0.2", "torchvision>=0.19", "pillow"]}
    forbidden, _ = isolation_tables(_workspace(tmp_path, members))
    assert "torchvision" not in forbidden["dllab-vision"]
    assert {"dllab-vision", "torchvision", "pillow"} <= forbidden["dllab-rl"]
    shared = {**members, "dllab-rl": [*TODAY["dllab-rl"], "tokenizers"]}
    forbidden, _ = isolation_tables(_workspace(tmp_path / "shared", shared))
    assert "tokenizers" not in forbidden["dllab-rl"] and "tokenizers" in forbidden["dllab-gp"]


def test_unreadable_requirement_is_named():
    with pytest.raises(ValueError, match=re.escape("'>=1.0'")):
        requirement_name(">=1.0")


def test_lock_closures_exclude_other_domains():
    for member, forbidden in FORBIDDEN.items():
        closure = lock_closure(member)
        assert REQUIRED[member] <= closure, f"{member} misses {sorted(REQUIRED[member] - closure)}"
        assert not closure & forbidden, f"{member} pulls in {sorted(closure & forbidden)}"


def check_environment(member: str) -> None:
    """Fail if the running interpreter's environment holds a forbidden distribution."""
    if member not in FORBIDDEN:
        sys.exit(f"{member!r} is not a workspace member; expected one of {sorted(FORBIDDEN)}")
    installed = {_norm(d.metadata["Name"]) for d in metadata.distributions()}
    bad = installed & FORBIDDEN[member]
    if bad or not REQUIRED[member] <= installed:
        sys.exit(
            f"{member}: forbidden {sorted(bad)}, missing {sorted(REQUIRED[member] - installed)}"
        )
    print(f"{member}: environment holds none of {sorted(FORBIDDEN[member])}")


if __name__ == "__main__":
    check_environment(sys.argv[1])

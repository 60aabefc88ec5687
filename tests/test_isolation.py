"""Each member installs without the other domains' stacks.

The check reads the committed uv.lock: the runtime dependency closure of each member (no dev
groups) must not hold the forbidden distributions. Run as a script inside a package's own
environment (``python tests/test_isolation.py dllab-rl``), it checks the installed
distributions there instead; .ci/run does that after syncing each package alone.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOMAIN_STACKS = {"torchvision", "tokenizers", "gpytorch", "gymnasium"}
FORBIDDEN = {
    "dllab-core": DOMAIN_STACKS | {"dllab-vision", "dllab-nlp", "dllab-rl", "dllab-gp"},
    "dllab-rl": (DOMAIN_STACKS - {"gymnasium"}) | {"dllab-vision", "dllab-nlp", "dllab-gp"},
    "dllab-gp": (DOMAIN_STACKS - {"gpytorch"}) | {"dllab-vision", "dllab-nlp", "dllab-rl"},
}
REQUIRED = {
    "dllab-core": {"torch", "lightning"},
    "dllab-rl": {"gymnasium"},
    "dllab-gp": {"gpytorch"},
}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def lock_closure(member: str) -> set[str]:
    """Names of every distribution ``member`` pulls in at runtime, from uv.lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {_norm(p["name"]): p for p in lock["package"]}
    seen: set[str] = set()
    todo = [_norm(member)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_norm(dep["name"]) for dep in packages[name].get("dependencies", []))
    return seen


def test_every_member_is_listed():
    members = {p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists()}
    assert members == set(FORBIDDEN)


def test_lock_closures_exclude_other_domains():
    for member, forbidden in FORBIDDEN.items():
        closure = lock_closure(member)
        assert REQUIRED[member] <= closure, member
        assert not closure & forbidden, f"{member} pulls in {sorted(closure & forbidden)}"


def check_environment(member: str) -> None:
    """Fail if the running interpreter's environment holds a forbidden distribution."""
    installed = {_norm(d.metadata["Name"]) for d in metadata.distributions()}
    bad = installed & FORBIDDEN[member]
    if bad or not REQUIRED[member] <= installed:
        sys.exit(
            f"{member}: forbidden {sorted(bad)}, missing {sorted(REQUIRED[member] - installed)}"
        )
    print(f"{member}: environment holds none of {sorted(FORBIDDEN[member])}")


if __name__ == "__main__":
    check_environment(sys.argv[1])

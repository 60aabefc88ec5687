"""Kernel specifications: the small string language shared by both backends.

A spec is a sum of terms, each term a product of base kernels: ``"rbf"``,
``"rbf+periodic"``, ``"rbf*periodic+linear"``. Every term carries its own output scale,
except a term containing ``linear``, whose variance already plays that role. Parsing is pure
Python, so the CLI can reject a bad spec before importing torch.
"""

from __future__ import annotations

BASE_KERNELS: tuple[str, ...] = ("rbf", "matern12", "matern32", "matern52", "periodic", "linear")
"""Names of the base kernels a spec may combine."""

MATERN_NU: dict[str, float] = {"matern12": 0.5, "matern32": 1.5, "matern52": 2.5}
"""Smoothness ν of each Matérn name."""


def parse_kernel_spec(spec: str) -> list[list[str]]:
    """Split a kernel spec into terms of factors.

    Args:
        spec: e.g. ``"rbf"``, ``"matern52+periodic"`` or ``"rbf*periodic"``; case and spaces
            are ignored.

    Returns:
        One list of base-kernel names per term, e.g. ``[["rbf", "periodic"], ["linear"]]``.

    Raises:
        TypeError: if ``spec`` is not a string.
        ValueError: if it is empty or names an unknown kernel.
    """
    if not isinstance(spec, str):
        raise TypeError(f"kernel spec must be a string such as 'rbf', got {type(spec).__name__}")
    text = spec.replace(" ", "").lower()
    if not text:
        raise ValueError(f"kernel spec is empty; choose from {', '.join(BASE_KERNELS)}")
    terms = []
    for term in text.split("+"):
        factors = term.split("*")
        for name in factors:
            if name not in BASE_KERNELS:
                shown = name or "(empty)"
                raise ValueError(
                    f"unknown kernel {shown!r} in spec {spec!r}; "
                    f"choose from {', '.join(BASE_KERNELS)}, combined with '+' and '*'"
                )
        terms.append(factors)
    return terms


def term_is_scaled(factors: list[str]) -> bool:
    """Whether a term gets its own output scale (terms with ``linear`` do not)."""
    return "linear" not in factors


def term_names(terms: list[list[str]]) -> list[str]:
    """A unique readable name per term (``rbf``, ``rbf*periodic``, ``rbf#1`` for repeats)."""
    names: list[str] = []
    for factors in terms:
        base = "*".join(factors)
        name, k = base, 1
        while name in names:
            name, k = f"{base}#{k}", k + 1
        names.append(name)
    return names


def canonical_spec(spec: str) -> str:
    """The normalised spelling of a spec (``" RBF + Periodic"`` -> ``"rbf+periodic"``)."""
    return "+".join("*".join(factors) for factors in parse_kernel_spec(spec))

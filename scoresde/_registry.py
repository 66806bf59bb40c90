"""Registries: each family's names declared once.

An SDE, a network, a weighting, a dataset or a sampler is known by one short
name (`"vp"`, `"mlp"`, `"score"`, `"nine-gaussians"`, `"pf-ode"`). Each family
has one [`Registry`][scoresde._registry.Registry] in the module that defines
the family; the command line's choices and help, the run directory's
`config.json` and the documentation's tables all read it, so a name added
there is known everywhere at once.
"""

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar


T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Param:
    """A numeric parameter that a registered builder takes as a keyword argument,
    with the default the command line uses and a one-line help text.

    `flag` is the command-line spelling (`beta_min` -> `--beta-min`; a
    `cli_name` renames it where the plain name would clash with another flag,
    as the discrete SDEs' `num_steps` is `--num-levels`)."""

    name: str
    default: Any
    help: str
    type: Callable[[str], Any] = float
    cli_name: str | None = None

    @property
    def flag(self) -> str:
        """The command-line flag: `--` and `cli_name` (default `name`), with
        dashes for underscores."""
        return "--" + (self.cli_name or self.name).replace("_", "-")


@dataclasses.dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered name: `build(**kwargs)` makes the object; `params` lists
    the keyword arguments the command line may pass (with their defaults);
    `summary` is a one-line description for help texts and docs."""

    name: str
    build: Callable[..., T]
    summary: str
    params: tuple[Param, ...] = ()

    def defaults(self) -> dict[str, Any]:
        """The command line's default keyword arguments for `build`."""
        return {p.name: p.default for p in self.params}


class Registry(Generic[T]):
    """Names of one family (`family` is e.g. `"SDE"`), in registration order."""

    def __init__(self, family: str):
        self.family = family
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self,
        name: str,
        build: Callable[..., T],
        summary: str,
        params: tuple[Param, ...] = (),
    ) -> Entry[T]:
        if name in self._entries:
            raise ValueError(f"{self.family} {name!r} is registered twice.")
        entry = Entry(name, build, summary, params)
        self._entries[name] = entry
        return entry

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def __getitem__(self, name: str) -> Entry[T]:
        if not isinstance(name, str) or name not in self._entries:
            raise ValueError(
                f"Unknown {self.family} {name!r}; known: {', '.join(self.names)}."
            )
        return self._entries[name]

    def build(self, name: str, *args: Any, **kwargs: Any) -> T:
        """`self[name].build(*args, **kwargs)`."""
        return self[name].build(*args, **kwargs)

    def help(self) -> str:
        """`name: summary` for every entry, for help texts."""
        return "; ".join(f"{e.name}: {e.summary}" for e in self)

    def markdown_table(self) -> str:
        """A Markdown table of the names, summaries and parameters (for docs)."""
        rows = ["| name | what | parameters (command-line default) |", "|---|---|---|"]
        for e in self:
            params = ", ".join(f"`{p.name}` ({p.default})" for p in e.params) or "-"
            rows.append(f"| `{e.name}` | {e.summary} | {params} |")
        return "\n".join(rows)


def int_tuple(text: str) -> tuple[int, ...]:
    """Parse comma-separated positive integers such as `32,64` (a `Param.type`)."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(
            f"expected comma-separated integers such as 32,64, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise ValueError(f"expected positive integers, got {text!r}")
    return values


def nonnegative(text: str) -> float:
    """Parse a finite number >= 0 (a `Param.type`)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number >= 0, got {text!r}") from None
    if not (value >= 0 and value < float("inf")):
        raise ValueError(f"expected a finite number >= 0, got {text}")
    return value

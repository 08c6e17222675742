"""Plug-in registries: every module of a package that defines the registry's attribute is a
plug-in, found by name. Adding one is adding a module; nothing else lists them."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Generic, TypeVar

from paxos_exp.core.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """The plug-ins of one kind: ``package.<module>.<attribute>`` for every module of
    ``package`` that has it (imported on first use), keyed by the plug-in's ``name``."""

    def __init__(self, package: str, attribute: str, kind: str, group: str) -> None:
        self.package, self.attribute, self.kind, self.group = package, attribute, kind, group
        self._found: dict[str, T] | None = None

    def _load(self) -> dict[str, T]:
        if self._found is None:
            found: dict[str, T] = {}
            package = importlib.import_module(self.package)
            for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
                if info.name.startswith("_"):
                    continue
                module = importlib.import_module(f"{self.package}.{info.name}")
                plugin = getattr(module, self.attribute, None)
                if plugin is None:
                    continue
                name = plugin.name  # type: ignore[attr-defined]
                if name in found:
                    raise RuntimeError(f"two {self.kind}s are named {name!r}")
                found[name] = plugin
            self._found = found
        return self._found

    def get(self, name: str) -> T:
        """The plug-in called ``name``; a ConfigError listing the choices if there is none."""
        found = self._load()
        try:
            return found[name]
        except (KeyError, TypeError):
            raise ConfigError(
                f"{self.group}={name}: no such {self.kind}; choose one of {', '.join(found)}"
            ) from None

    def names(self) -> list[str]:
        return list(self._load())

    def __iter__(self) -> Iterator[T]:
        return iter(self._load().values())


@dataclass(frozen=True)
class NoParams:
    """The settings of a plug-in that has none."""


@dataclass(frozen=True)
class Choice:
    """A registered plug-in by name, with its settings (a frozen dataclass of the plug-in's
    ``params`` type, whose field defaults are the only place its defaults are written)."""

    name: str
    params: Any = NoParams()

    def as_dict(self) -> dict[str, Any]:
        """``{"name": ..., <setting>: ...}``: what a job key hashes and result.json stores."""
        return {"name": self.name, **asdict(self.params)}


def choose(registry: Registry[Any], given: str | Mapping[str, Any] | Choice) -> Choice:
    """A validated :class:`Choice` from a name, a mapping with ``name`` and settings, or a
    Choice; unknown settings and bad values raise ConfigError naming the key."""
    if isinstance(given, Choice):
        registry.get(given.name)
        return given
    if isinstance(given, str):
        name, settings = given, {}
    else:
        settings = dict(given)
        name = settings.pop("name", None)
        if name is None:
            raise ConfigError(f"{registry.group}: give the {registry.kind}'s name, such as "
                              f"{registry.group}={registry.names()[0]}")
    plugin = registry.get(name)
    params_type = plugin.params
    known = [field.name for field in fields(params_type)]
    for key in settings:
        if key not in known:
            has = f"its settings are {', '.join(known)}" if known else "it has no settings"
            raise ConfigError(f"{registry.group}.{key}: {registry.kind} {name} has no such "
                              f"setting; {has}")
    return Choice(name, params_type(**settings))

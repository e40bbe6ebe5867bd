"""Backend lookup by name, so configuration (CLI flags, Dagster resources) can stay strings.

Each backend module is imported only when asked for: the replay or heuristic backends must
work on a machine where nothing AWS-related is configured, and a backend that is not
installed must fail as a clear :class:`ConfigurationError`, not an ImportError.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from enrichment_dagster.llm.types import ConfigurationError, LLMBackend

#: backend name → (module, class). ``heuristic`` is written separately and may be absent.
BACKENDS: dict[str, tuple[str, str]] = {
    "bedrock": ("enrichment_dagster.llm.bedrock", "BedrockBackend"),
    "openai": ("enrichment_dagster.llm.openai_compat", "OpenAICompatibleBackend"),
    "replay": ("enrichment_dagster.llm.replay", "ReplayBackend"),
    "heuristic": ("enrichment_dagster.llm.heuristic", "HeuristicBackend"),
}


def available_backends() -> list[str]:
    """The names :func:`make_backend` accepts."""
    return sorted(BACKENDS)


def make_backend(name: str, **settings: Any) -> LLMBackend:
    """Build the backend called ``name`` with ``settings`` as its constructor arguments."""
    key = name.strip().lower()
    if key not in BACKENDS:
        raise ConfigurationError(
            f"unknown LLM backend {name!r}; choose one of {', '.join(available_backends())}"
        )
    backend_class = _load_class(key)
    try:
        inspect.signature(backend_class).bind(**settings)
    except TypeError as exc:
        raise ConfigurationError(f"bad settings for the {key!r} backend: {exc}") from exc
    return backend_class(**settings)


def _load_class(key: str) -> type[Any]:
    module_name, class_name = BACKENDS[key]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"the {key!r} backend is not available: cannot import {module_name} ({exc})"
        ) from exc
    backend_class = getattr(module, class_name, None)
    if backend_class is None:
        raise ConfigurationError(f"{module_name} defines no {class_name} (backend {key!r})")
    return backend_class

"""The models a scenario describes: built once each, with its default parameters and budget.

:class:`ModelPool` builds the run's model (``model:``) and any other (a ``models:`` key or a
model name an agent or scheduler names) on first use, each passed through one wrapper (the
run's spending limit). :class:`DefaultParamsModel` adds the scenario's ``temperature`` and
``max_tokens`` to every request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from .models.base import Completion, Model, Request
from .models.wrappers import ModelWrapper
from .scenario_schema import ModelSpec, Scenario
from .scenarios import resolve_path, scenario_error

ModelRef = str | Model | None
"""What an agent's ``model`` becomes: ``None`` (the run's model), a name, or a model object."""


class DefaultParamsModel(ModelWrapper):
    """Adds the scenario's ``temperature``/``max_tokens`` to requests that do not set them.

    It sits outside the cache, so the parameters are part of every cache key.
    """

    def __init__(self, inner: Model, params: Mapping[str, Any]) -> None:
        super().__init__(inner)
        self.params = dict(params)

    async def acomplete(self, request: Request) -> Completion:
        missing = {k: v for k, v in self.params.items() if k not in request.params}
        if missing:
            request = request.model_copy(update={"params": {**request.params, **missing}})
        return await self.inner.acomplete(request)


def build_model_from_spec(scenario: Scenario, spec: ModelSpec, field: str) -> Model:
    """A ready model for one ``model:`` or ``models:`` entry (``field`` names it in errors)."""
    from .models import build_model

    api_key = None
    if spec.key_env is not None:
        api_key = os.environ.get(spec.key_env)
        if not api_key:
            raise scenario_error(
                scenario, f"{field}.key_env", f"the environment variable {spec.key_env} is not set"
            )
    cache: str | bool | None = spec.cache
    if isinstance(spec.cache, str):
        cache = str(resolve_path(scenario, spec.cache))
    model = build_model(
        spec.name,
        cache=cache,
        concurrency=spec.concurrency,
        max_retries=spec.max_retries,
        timeout=spec.timeout,
        rpm=spec.rpm,
        tpm=spec.tpm,
        api_base=spec.api_base,
        api_key=api_key,
        json_schema=spec.json_schema,
    )
    params = {
        k: v
        for k, v in (("temperature", spec.temperature), ("max_tokens", spec.max_tokens))
        if v is not None
    }
    return DefaultParamsModel(model, params) if params else model


class ModelPool:
    """The models a run uses, built once each and passed through ``wrap`` (e.g. the budget).

    ``get(ref)`` takes a ``models:`` key or a model name; the run's model is ``run``.

    Args:
        scenario: The scenario whose ``model`` and ``models`` it builds.
        wrap: Applied to every model built (the run's spending limit).
        run_model: A ready model to use as the run's model instead of ``model:``.
    """

    def __init__(
        self,
        scenario: Scenario,
        wrap: Callable[[Model], Model] | None = None,
        *,
        run_model: Model | None = None,
    ) -> None:
        self.scenario = scenario
        self._wrap = wrap
        base = run_model or build_model_from_spec(scenario, scenario.model_spec, "model")
        self.run = self._finish(base)
        self._built: dict[str, Model] = {}

    def _finish(self, model: Model) -> Model:
        return self._wrap(model) if self._wrap is not None else model

    def get(self, ref: str) -> Model:
        """The model for a ``models:`` key or a model name (built on first use)."""
        if ref not in self._built:
            spec = self.scenario.models.get(ref)
            if spec is None and ref == self.run.name:
                return self.run
            field = f"models.{ref}" if spec is not None else "model"
            model = build_model_from_spec(
                self.scenario, spec or ModelSpec.model_validate({"name": ref}), field
            )
            self._built[ref] = self._finish(model)
        return self._built[ref]

    def models(self) -> list[Model]:
        """Every model built so far, the run's first."""
        return [self.run, *self._built.values()]


def use_pool_models(unit: Any, pool: ModelPool) -> None:
    """Give a task unit's agents the pool's models instead of model names."""
    from .conversation import Conversation

    conv = getattr(unit, "conversation", None)
    if not isinstance(conv, Conversation) or not any(isinstance(a.model, str) for a in conv.agents):
        return
    agents = tuple(
        a.model_copy(update={"model": pool.get(a.model)}) if isinstance(a.model, str) else a
        for a in conv.agents
    )
    unit.conversation = conv.model_copy(update={"agents": agents})


def model_ref(name: str | None, pool: ModelPool | None, scenario: Scenario) -> ModelRef:
    """An agent's or scheduler's model: the pool's (built), a name, or ``None`` (the run's)."""
    if name is None:
        return None
    if pool is not None:
        return pool.get(name)
    spec = scenario.models.get(name)
    return spec.name if spec is not None else name

"""Every error vs_sim raises, in one tree.

```
VSSimError                      root: catch this to catch everything vs_sim raises
├── ConfigError(ValueError)     a user-written value is wrong (scenario, method option, spec)
│   └── ScenarioError           a scenario file is wrong; names the file and the path inside it
├── TemplateError               a persona or method template is missing, broken or unsafe
│   ├── TemplateNotFound(KeyError)   names the template and the search path
│   └── AttributeValidationError(ValueError)  names the template, the attribute and what is allowed
├── ParseError(ValueError)      nothing usable in a model's answer; carries the raw text
├── MissingDependency(ImportError)  an optional package is not installed; names the pip extra
└── ModelError                  a model call failed; carries the model and the request key
    ├── ModelTimeout            the call took longer than its timeout
    ├── RateLimited             the provider answered 429 (retry_after when it said)
    ├── ProviderError           the provider answered 5xx or another error status
    ├── ModelUnreachable        nothing listens at the address, or the host is unknown (fails fast)
    └── ModelNotConfigured      no credentials, an unknown provider or model (fails fast)
```

Each error says *where*: a file and line, a field path, or a request key.
"""

from __future__ import annotations

from typing import Any


class VSSimError(Exception):
    """Root of every error vs_sim raises."""


class ConfigError(VSSimError, ValueError):
    """A value a user wrote (option, spec, scenario field) is wrong.

    Args:
        message: What is wrong and what was expected.
        where: Where the value lives (a file, ``file:line`` or a field path such as
            ``questions[3].options``).
    """

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class ScenarioError(ConfigError):
    """A scenario file is invalid; ``where`` names the file and the path inside it."""


class TemplateError(VSSimError):
    """A persona or method template is missing, broken or tried something unsafe."""


class TemplateNotFound(TemplateError, KeyError):
    """No template of that name on the search path."""

    def __init__(self, name: str, search_path: list[str]) -> None:
        self.name = name
        self.search_path = search_path
        super().__init__(
            f"template {name!r} not found; searched: {', '.join(search_path) or '(empty path)'}"
        )

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class AttributeValidationError(TemplateError, ValueError):
    """An attribute given to a persona template is missing, unknown or out of range."""


class ParseError(VSSimError, ValueError):
    """Nothing usable could be read from a model's answer.

    Attributes:
        raw: The complete raw text that failed to parse.
        reason: Why it failed.
    """

    def __init__(self, reason: str, raw: str) -> None:
        self.reason = reason
        self.raw = raw
        preview = raw if len(raw) <= 200 else raw[:200] + "…"
        super().__init__(f"{reason} (raw text: {preview!r})")


class MissingDependency(VSSimError, ImportError):
    """An optional package a feature needs is not installed.

    Attributes:
        package: The missing import name (e.g. ``sentence_transformers``).
        extra: The vs_sim extra that installs it (e.g. ``embeddings``).
        feature: What needed it (e.g. ``LocalEmbedder``).
    """

    def __init__(self, package: str, *, extra: str, feature: str) -> None:
        self.package = package
        self.extra = extra
        self.feature = feature
        super().__init__(
            f"{feature} needs the optional package {package!r}, which is not installed; "
            f'install it with: pip install "vs_sim[{extra}]"',
            name=package,
        )


class ModelError(VSSimError):
    """A model call failed.

    Attributes:
        model: The model's name.
        request_key: The cache key of the request that failed, when known.
        attempts: How many attempts were made before giving up.
    """

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        request_key: str | None = None,
        attempts: int = 1,
        **extra: Any,
    ) -> None:
        self.model = model
        self.request_key = request_key
        self.attempts = attempts
        self.extra = extra
        where = f"model {model!r}" if model else "model call"
        if request_key:
            where += f" (request {request_key[:12]})"
        super().__init__(f"{where}: {message}")


class ModelTimeout(ModelError):
    """The call took longer than its timeout."""


class RateLimited(ModelError):
    """The provider answered 429; ``retry_after`` is the delay it asked for, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ProviderError(ModelError):
    """The provider answered with an error status; ``status`` is the HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None, **kw: Any) -> None:
        self.status = status
        super().__init__(message, **kw)

    @property
    def retryable(self) -> bool:
        """Server errors and unknown statuses are worth another try; 4xx are not."""
        return self.status is None or self.status >= 500 or self.status in (408, 409)


class ModelUnreachable(ModelError):
    """Nothing answers at the model's address; retrying will not help."""


class ModelNotConfigured(ModelError):
    """The model cannot be called as configured: missing credentials, an unknown provider or
    model name. Every call would fail the same way, so a run stops at the first one."""

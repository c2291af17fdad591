"""One small error hierarchy. Every message is one line that ends with what to do next.

Each class also subclasses the matching built-in, so callers that only know Python's own
exceptions still catch them. Front ends (cli.py, app.py) turn these into one clean line.
"""


class LlmmemError(Exception):
    """Base class: anything llmmem refuses on purpose."""


class InputError(LlmmemError, ValueError):
    """What the user typed cannot be used (a bad count, a bad model ID, an unknown GPU)."""


class ConfigError(LlmmemError, ValueError):
    """A config.json is unreadable or lacks the fields an estimate needs."""


class ModelNotFoundError(LlmmemError, LookupError):
    """No such model in the catalog or on the Hub."""


class GatedModelError(LlmmemError, PermissionError):
    """The Hub refused the request: gated or private repository."""


class HubUnavailableError(LlmmemError, ConnectionError):
    """The Hub did not answer usefully (offline, timeout, rate limit, server error)."""

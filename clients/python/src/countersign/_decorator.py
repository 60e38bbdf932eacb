"""``@requires_approval``: a tool function that runs only after a human approved the call, with
the arguments the human approved."""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar, cast

from ._client import Approval, Client, default_client
from ._errors import Refused

F = TypeVar("F", bound=Callable[..., Any])


def requires_approval(
    kind: str = "tool.call",
    target: Optional[str] = None,
    *,
    summary: Optional[str] = None,
    server: Optional[str] = None,
    client: Optional[Client] = None,
    timeout: Optional[float] = None,
    expires_in_s: Optional[int] = None,
) -> Callable[[F], F]:
    """Gates every call of the decorated function on a signed human decision.

    A call files a ``tool.call`` draft — ``payload = {"tool": <function name>, "server":
    server?, "arguments": {<parameter>: <value>, …}}`` (defaults applied; the values must be
    JSON) — waits for the decision, verifies it against the pinned keys, records its single
    use, and only then calls the function **with the approved arguments** from the signed body
    (the human may have edited them). Raises :class:`~countersign.Rejected`,
    :class:`~countersign.Refused`, :class:`~countersign.Timeout` or
    :class:`~countersign.ApiError` instead of calling it.

    ``kind`` is ``tool.call`` (the kind whose payload a function call maps onto; gate other
    kinds with :func:`countersign.gate`). ``target`` defaults to
    ``python://<server or module>/<function>``; ``summary`` to ``Call <function>(…)``;
    ``client`` to one configured from the environment at call time. ``async def`` functions
    are supported (the wait runs in a worker thread).
    """
    if kind != "tool.call":
        raise ValueError(
            f"requires_approval drafts tool.call actions, not {kind}; use countersign.gate for other kinds"
        )

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        for p in signature.parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL):
                raise TypeError(
                    f"{fn.__name__}: parameter `{p.name}` cannot be named in a draft; "
                    "use ordinary or keyword parameters"
                )
        name = fn.__name__
        where = server or fn.__module__
        draft_target = target or f"python://{where}/{name}"

        def draft_for(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, Any]:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments: Dict[str, Any] = {}
            for key, value in bound.arguments.items():
                if signature.parameters[key].kind == inspect.Parameter.VAR_KEYWORD:
                    arguments.update(value)
                else:
                    arguments[key] = value
            payload: Dict[str, Any] = {"tool": name, "arguments": arguments}
            if server is not None:
                payload["server"] = server
            shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
            draft: Dict[str, Any] = {
                "kind": "tool.call",
                "target": draft_target,
                "summary": summary or _clip(f"Call {name}({shown})", 200),
                "payload": payload,
            }
            if expires_in_s is not None:
                draft["expires_in_s"] = expires_in_s
            return draft

        def approved_arguments(approval: Approval) -> Dict[str, Any]:
            payload = approval.action.get("payload")
            action_id = approval.submitted.id
            if not isinstance(payload, dict) or payload.get("tool") != name or payload.get("server") != server:
                raise Refused("mismatch", f"the approved call is not a call of {name}", action_id)
            arguments = payload.get("arguments")
            if not isinstance(arguments, dict):
                raise Refused("mismatch", "the approved arguments are not an object", action_id)
            try:
                signature.bind(**arguments)
            except TypeError as e:
                raise Refused("mismatch", f"the approved arguments do not fit {name}: {e}", action_id) from None
            return arguments

        def client_now() -> Client:
            return client or default_client()

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                draft = draft_for(args, kwargs)
                approval = await asyncio.to_thread(client_now().gate, draft, timeout)
                return await fn(**approved_arguments(approval))

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            approval = client_now().gate(draft_for(args, kwargs), timeout)
            return fn(**approved_arguments(approval))

        return cast(F, wrapper)

    return decorate


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""This module checks that a verified Slack payload has the shape Slack gives it, before bolt and the listeners read it.

bolt (1.2x) and the listeners read payloads as Slack shapes them and raise on anything else: ``event`` must be an
object, ``user`` / ``team`` / ``channel`` an id or an object with a string ``id``, ``authorizations`` and
``actions`` lists of objects, a modal's ``state.values`` objects of objects ... A raise there answers 500 and
logs a traceback, and Slack redelivers a 500 three times. A signed payload of another shape is not one Slack
sends: it gets a 400 with the reason instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_USER_ID = re.compile(r"[!-~]{1,64}")  # short, printable ASCII: a user id goes into Web API URLs (users.info)
_IDS = ("user", "channel", "team", "enterprise")  # a Slack id, or an object whose ``id`` is one
_OBJECTS = ("event", "message", "previous_message", "item", "assistant_thread", "view", "container", "state")
_LISTS = ("authorizations", "actions", "response_urls")  # lists of objects
_INTERACTIVE = frozenset({"block_actions", "view_submission", "view_closed", "message_action", "shortcut"})
_DEPTH = 3  # event -> message -> ...: as deep as bolt looks


def malformed(body: object) -> str | None:
    """Why ``body`` is not a payload Slack sends (a reason for a 400), or None when it is one."""
    if not isinstance(body, Mapping):
        return "the payload is not a JSON object"
    kind = body.get("type", "")
    if not isinstance(kind, str):
        return "type must be a string"
    if "command" in body and not isinstance(body.get("response_url"), str):
        return "a slash command needs a response_url"
    if kind in _INTERACTIVE and not isinstance(body.get("user"), Mapping):
        return "an interaction needs its user as an object"
    if kind == "block_actions" and not body.get("actions"):
        return "block_actions needs actions"
    actions = body.get("actions")
    if isinstance(actions, list) and not all(
        isinstance(a, Mapping) and isinstance(a.get("action_id"), str) for a in actions
    ):
        return "every action needs an action_id"
    return _problem(body, "", _DEPTH)


def _problem(payload: Mapping[str, object], where: str, depth: int) -> str | None:
    for key in _IDS:
        value = payload.get(key)
        if value is not None and not isinstance(value, str | Mapping):
            return f"{where}{key} must be an id or an object"
        if isinstance(value, Mapping) and not isinstance(value.get("id", ""), str):
            return f"{where}{key}.id must be a string"
    user = payload.get("user")
    for key, value in (
        ("user", user.get("id") if isinstance(user, Mapping) else user),
        ("user_id", payload.get("user_id")),
    ):
        if value is not None and (not isinstance(value, str) or not _USER_ID.fullmatch(value)):
            return f"{where}{key} is not a Slack user id"
    if not isinstance(payload.get("type", ""), str):
        return f"{where}type must be a string"
    nested: list[tuple[str, Mapping[str, object]]] = []
    for key in _OBJECTS:
        if key not in payload:
            continue
        value = payload[key]
        if not isinstance(value, Mapping):
            return f"{where}{key} must be an object"
        if key == "view" and not isinstance(value.get("type"), str):
            return f"{where}view needs a type"
        if key == "state" and not _state_values(value.get("values", {})):
            return f"{where}state.values must map blocks to actions to objects"
        nested.append((key, value))
    for key in _LISTS:
        value = payload.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            return f"{where}{key} must be a list of objects"
        nested.extend((f"{key}[{index}]", item) for index, item in enumerate(value))
    if not _choices(payload):
        return f"{where}selected_option(s) must be objects"
    if depth > 1:
        for key, value in nested:
            problem = _problem(value, f"{where}{key}.", depth - 1)
            if problem is not None:
                return problem
    return None


def _state_values(values: object) -> bool:
    """A submitted modal's ``{block_id: {action_id: {type, value | selected_option ...}}}``."""
    if not isinstance(values, Mapping):
        return False
    for actions in values.values():
        if not isinstance(actions, Mapping):
            return False
        if not all(isinstance(state, Mapping) and _choices(state) for state in actions.values()):
            return False
    return True


def _choices(element: Mapping[str, object]) -> bool:
    option, options = element.get("selected_option"), element.get("selected_options")
    if option is not None and not isinstance(option, Mapping):
        return False
    return options is None or (isinstance(options, list) and all(isinstance(o, Mapping) for o in options))

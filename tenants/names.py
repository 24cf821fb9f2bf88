"""What a workspace may be called, and the name it gets before anyone picks one.

One limit for every place a name comes from (the settings form, "create another workspace",
the first sign-in), so a generated name is always one the settings form accepts.
"""

from __future__ import annotations

import unicodedata

NAME_MAX = 80
_SUFFIX = "'s workspace"


def name_problem(name: str) -> str | None:
    """Why `name` (already stripped) cannot be a workspace's name, or None."""
    if not name:
        return "Give your workspace a name."
    if len(name) > NAME_MAX:
        return f"Keep the name to {NAME_MAX} characters or fewer."
    return None


def default_name(person: str) -> str:
    """`<person>'s workspace`, with the person's name shortened to fit NAME_MAX and kept to
    one line of printable text (it comes from an identity provider, not from a form)."""
    one_line = " ".join(person.split())
    who = "".join(c for c in one_line if not unicodedata.category(c).startswith("C"))
    room = NAME_MAX - len(_SUFFIX)
    if len(who) > room:
        who = who[: room - 1].rstrip() + "…"
    return f"{who}{_SUFFIX}" if who else "My workspace"

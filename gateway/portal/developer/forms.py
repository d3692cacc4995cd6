"""What the developer pages let a user change, read from a submitted form, and how a field problem is said."""

from __future__ import annotations

from collections.abc import Mapping

from multidict import MultiDictProxy

from gateway.errors import Invalid, InvalidRequest

EDITABLE = ("name", "redirect_uri", "server_side", "scopes")
_FIXED = ("client_id", "client_secret", "owner", "published")
_LABELS = {"name": "Name", "redirect_uri": "Redirect URI", "server_side": "Server-Side Application", "scopes": "Scopes"}


def check_fields(body: Mapping[str, object]) -> None:
    """Only the four user-editable fields; `owner` and `published` are Apptoto's, ids and secrets are fixed."""
    problems = {k: ("cannot be changed" if k in _FIXED else "unknown field") for k in body if k not in EDITABLE}
    if problems:
        raise Invalid(problems)


def form_fields(form: MultiDictProxy[str]) -> dict[str, object]:
    """What the register/edit form submitted. An unticked checkbox is simply absent, so the toggle and the scopes
    are read from presence; repeated single-value fields are refused (only a tampered form repeats them)."""
    for name in ("name", "redirect_uri", "csrf", "form_id"):
        if len(form.getall(name, [])) > 1:
            raise InvalidRequest(f"the {name} field is repeated")
    return {
        "name": form.get("name", ""),
        "redirect_uri": form.get("redirect_uri", "").strip(),
        "server_side": "server_side" in form,
        "scopes": list(dict.fromkeys(form.getall("scope", []))),
    }


def field_message(field: str, message: str) -> str:
    """A field error as a sentence next to the field: "Redirect URI must use https ...", "Tick at least one ..."."""
    if message == "must be a non-empty string":
        message = "is required"
    if message.startswith(("must", "is ", "cannot")):
        return f"{_LABELS.get(field, field)} {message}."
    return message[:1].upper() + message[1:] + "."

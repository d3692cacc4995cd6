"""The developer pages' HTML: each page is a template (templates/developer_*.html) filled from plain values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web

from gateway.applications import Edited, Registered
from gateway.models import Application
from gateway.portal.developer import PATH
from gateway.portal.developer.forms import EDITABLE, field_message
from gateway.portal.identity import Viewer
from gateway.portal.pages import render_page
from gateway.settings import Settings

NOTICES = {
    "updated": "Application saved. Tokens already issued keep working, limited to the scopes ticked now.",
    "deleted": "Application deleted. Every access token issued to it has been revoked.",
}
ALREADY_SUBMITTED = (
    "This form was already submitted and the application was created. Its client secret was "
    "shown once; if you did not copy it, delete the application and register a new one."
)


def list_page(
    settings: Settings,
    viewer: Viewer,
    apps: Sequence[Application],
    *,
    created: Registered | Edited | None = None,
    notice: str = "",
    status: int = 200,
) -> web.Response:
    """`created`: the application this request registered, or edited into a Server-Side one (its new secret is
    shown this once)."""
    return render_page(
        "developer_list.html",
        status=status,
        title="OAuth Applications",
        size="wide",
        active="developer",
        path=PATH,
        apps=apps,
        created=created,
        notice=notice,
        viewer=viewer,
        secret_from_edit=isinstance(created, Edited),
        catalog_size=len(settings.scopes),
    )


def form_page(
    settings: Settings,
    viewer: Viewer,
    values: Mapping[str, object],
    *,
    app: Application | None = None,
    errors: Mapping[str, str] | None = None,
    form_id: str = "",
    status: int = 200,
) -> web.Response:
    """The register form (app is None) or the edit form, filled with `values` (what the user typed, on errors)."""
    errors = errors or {}
    raw_scopes = values.get("scopes")
    ticked = {s for s in raw_scopes if isinstance(s, str)} if isinstance(raw_scopes, list | tuple) else set()
    if app is None:
        title, action, submit = "Register OAuth Application", PATH, "Create"
    else:
        title, action, submit = f"Edit {app.name}", f"{PATH}/{app.client_id}", "Save"
    return render_page(
        "developer_form.html",
        status=status,
        title=title,
        size="wide",
        active="developer",
        path=PATH,
        app=app,
        action=action,
        submit=submit,
        csrf=viewer.csrf,
        viewer=viewer,
        form_id=form_id,
        name=values.get("name", ""),
        redirect_uri=values.get("redirect_uri", ""),
        server_side=bool(values.get("server_side")),
        ticked=ticked,
        catalog=list(settings.scopes.items()),
        errors={k: field_message(k, v) for k, v in errors.items() if k in EDITABLE},
        other_errors=[field_message(k, v) for k, v in errors.items() if k not in EDITABLE],
    )


def delete_page(app: Application, viewer: Viewer) -> web.Response:
    """The confirmation step of Delete: says what happens to live tokens before anything is done."""
    return render_page(
        "developer_delete.html",
        title=f"Delete {app.name}",
        size="wide",
        active="developer",
        path=PATH,
        app=app,
        csrf=viewer.csrf,
        viewer=viewer,
    )


NOT_FOUND_PAGE = ("Application not found", "There is no such application among yours.")  # title, message

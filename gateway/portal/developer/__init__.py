"""OAuth Applications (Settings > Integrations > Developer Tools): a user registers, edits and deletes their own
applications. Server-rendered pages for the browser and a JSON twin for the portal.

- forms.py: what a form or JSON body may change, and the field messages;
- api.py: the JSON twin's shapes;
- views.py: the HTML pages (templates/developer_*.html);
- routes.py: the handlers (session, CSRF, ownership) over gateway/applications.py's lifecycle service.

Rules this package keeps:
- Only the owner sees or changes an application; anyone else's client id answers 404 (not 403), so client ids of
  other users cannot be confirmed by probing.
- Every change needs the session's CSRF token (form field `csrf`, or the `X-CSRF-Token` header for JSON).
- The client secret exists in clear only in the response to the create request (rendered straight into that page,
  never into a URL, a log, the session or Redis); editing never shows or changes it.
- A user-registered application starts unpublished (single-tenant: only its owner can authorize it); publication
  is Apptoto's decision, so `published` and `owner` are not editable here.
- Changes reach live tokens at once, exactly as from the admin API (the same service does both).
"""

from __future__ import annotations

from aiohttp import web

PATH = "/account/developer/applications"


def setup_routes(app: web.Application) -> None:
    from gateway.portal.developer import routes as h

    r = app.router
    r.add_get(PATH, h.list_apps)
    r.add_post(PATH, h.create)
    r.add_get(PATH + "/new", h.new_form)  # before /{client_id}: aiohttp matches in registration order
    r.add_get(PATH + "/{client_id}", h.edit_form)
    r.add_post(PATH + "/{client_id}", h.update)
    r.add_patch(PATH + "/{client_id}", h.update)
    r.add_delete(PATH + "/{client_id}", h.delete)
    r.add_get(PATH + "/{client_id}/delete", h.delete_confirm)
    r.add_post(PATH + "/{client_id}/delete", h.delete)

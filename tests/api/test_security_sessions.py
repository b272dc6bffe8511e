"""Signing out, or revoking the key, ends page sessions in the database, so a copy of the
cookie taken before is refused at once (issue 14, finding 6). Runs on SQLite and PostgreSQL
(the session generation is a column added by migration 0002)."""
import re

from api.web.session import COOKIE

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _signed_in_cookie(service, key: str) -> tuple[str, str]:
    """Sign in through the page; the session cookie and the CSRF token of the signed-in session."""
    c = service.client
    c.cookies.clear()
    csrf = CSRF_RE.search(c.get("/ui/signin").text).group(1)
    r = c.post("/ui/signin", data={"csrf_token": csrf, "api_key": key}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = c.get("/ui/history", follow_redirects=False)
    assert page.status_code == 200, page.text
    return c.cookies.get(COOKIE, path="/ui"), CSRF_RE.search(page.text).group(1)


def _with_cookie(service, cookie: str):
    service.client.cookies.clear()
    service.client.cookies.set(COOKIE, cookie, path="/ui")
    return service.client.get("/ui/history", follow_redirects=False)


def test_a_cookie_copied_before_sign_out_is_refused_after_it(service):
    cookie, csrf = _signed_in_cookie(service, service.key)
    r = service.client.post("/ui/signout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    again = _with_cookie(service, cookie)
    assert again.status_code == 303 and again.headers["location"].startswith("/ui/signin")
    # The sign-in page does not take the old cookie for a signed-in session either (no redirect loop).
    assert service.client.get("/ui/signin", follow_redirects=False).status_code == 200


def test_sign_out_ends_the_keys_sessions_in_every_browser(service):
    first, _ = _signed_in_cookie(service, service.key)
    _, csrf = _signed_in_cookie(service, service.key)
    service.client.post("/ui/signout", data={"csrf_token": csrf}, follow_redirects=False)
    assert _with_cookie(service, first).status_code == 303


def test_signing_in_again_after_sign_out_works(service):
    _, csrf = _signed_in_cookie(service, service.key)
    service.client.post("/ui/signout", data={"csrf_token": csrf}, follow_redirects=False)
    cookie, _ = _signed_in_cookie(service, service.key)
    assert _with_cookie(service, cookie).status_code == 200


def test_revoking_the_key_ends_its_sessions_and_leaves_other_keys_signed_in(service):
    from api.auth import revoke_key

    other = service.new_key("feedback")
    mine, _ = _signed_in_cookie(service, service.key)
    theirs, _ = _signed_in_cookie(service, other)
    revoke_key(service.db, other.split("_")[1])
    assert _with_cookie(service, theirs).status_code == 303
    assert _with_cookie(service, mine).status_code == 200

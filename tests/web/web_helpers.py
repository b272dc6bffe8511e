"""Helpers of the browser tests: sign in through the page, find unlabelled controls, walk the
Tab order. (A module of its own: test modules import it; conftest.py is not importable.)"""
from __future__ import annotations

import re


def sign_in(page, server, role: str, path: str = "/ui/") -> None:
    """Sign in through the page, as a person would: paste the key, press Enter."""
    page.goto(f"{server.base}{path}")
    page.wait_for_url(re.compile(r"/ui/signin"))
    page.get_by_label("API 密钥").fill(server.keys[role])
    page.get_by_label("API 密钥").press("Enter")
    page.wait_for_load_state()
    assert "/ui/signin" not in page.url, page.content()[:2000]


UNLABELLED_JS = """
() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
  .filter(el => !(el.labels && Array.from(el.labels).some(l => l.textContent.trim())))
  .map(el => el.outerHTML.slice(0, 120))
"""


def unlabelled(page) -> list[str]:
    """Form controls with no <label> (hidden inputs carry no user data and need none)."""
    return page.evaluate(UNLABELLED_JS)


def tab_sequence(page, selector: str, limit: int = 80) -> list[str]:
    """Press Tab from the top of the page (the skip link every page starts with) until
    `selector` has the focus; the ids (or tag names) of the elements focused on the way."""
    page.evaluate("() => { window.scrollTo(0, 0); document.querySelector('.skip-link').focus(); }")
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("() => document.activeElement.id || document.activeElement.tagName.toLowerCase()"))
        if page.evaluate("(sel) => document.activeElement.matches(sel)", selector):
            return seen
    raise AssertionError(f"{limit} presses of Tab never reached {selector}: {seen}")


def tab_until(page, selector: str, limit: int = 80) -> int:
    """How many presses of Tab from the top of the page reach `selector`."""
    return len(tab_sequence(page, selector, limit))

"""The page object every scan-screen e2e test drives: a flow region (#flow, or #lookup)
typed as a wedge scanner types (each character into the focused field, then Enter; never
fill(), which replaces the value and hides what a packer sees in a prefilled field),
checking on every Enter that the browser sent it as a scan and not as one of the panel's
buttons."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


class ScanScreen:
    """The #flow region of a scan screen, driven like a scanner (type, then Enter)."""

    def __init__(self, page: Page, app_url: str, path: str, region: str = "#flow"):
        self.page, self.app_url, self.path, self.selector = page, app_url, path, region

    @property
    def region(self):
        return self.page.locator(self.selector)

    def open(self, query: str = "") -> ScanScreen:
        self.page.goto(self.app_url + self.path + query)
        expect(self.region).to_be_visible()
        return self

    def field(self, label: str):
        return self.page.get_by_label(label, exact=True)

    def _swapped(self, action) -> None:
        """Run ``action`` and wait until the region has been replaced by the server's answer."""
        self.region.evaluate("el => { el.dataset.stale = '1'; }")
        action()
        expect(self.page.locator(f"{self.selector}:not([data-stale])")).to_be_attached()

    def _press_enter(self, field, label: str) -> None:
        """Press Enter in a scan field and check it was sent as a scan: HTML submits a form
        on Enter as if its first submit button were pressed, and a button that belongs to
        the form (form=) and stands before its own plain Enter button in the page would be
        pressed by every scan ("Skip location …", "Close carton N", "Next open order").
        Enter goes wherever focus is, as the scanner's does: the field must still have it."""
        self.page.evaluate("""() => {
            window.__submitter = '';
            if (window.__watching) return;
            window.__watching = true;
            document.addEventListener('submit', e => {
                const b = e.submitter;
                window.__submitter = b && b.name
                    ? `${b.name}=${b.value} ("${b.textContent.trim()}")` : ''; }, true); }""")
        expect(field).to_be_focused()
        self._swapped(lambda: self.page.keyboard.press("Enter"))
        sent_as = self.page.evaluate("window.__submitter")
        assert not sent_as, (f"Enter in the {label} field was sent as the button {sent_as}, "
                             f"not as a scan")

    def focused_scan_field(self):
        """The field that has focus, which must be a scan field ([data-scan]): a scanner
        types wherever focus is, so a scan into anything else is a bug of the screen."""
        focused = self.page.locator(":focus")
        expect(focused).to_have_count(1)
        what = focused.evaluate("""el => ({scan: el.matches('[data-scan]'), id: el.id,
            label: (el.labels && el.labels[0] ? el.labels[0].textContent.trim() : '')
                   || el.name || el.tagName})""")
        assert what["scan"], f"focus is on {what['label']!r}, not on a scan field: the scan goes there"
        field = self.page.locator(f"#{what['id']}") if what["id"] else focused
        return field, what["label"]

    def scan(self, *args: str) -> None:
        """Scan ``text`` as a wedge scanner does: ``scan(text)`` types the characters into
        whatever field has focus (it must be a scan field), ``scan(label, text)`` first checks
        that focus is on the field labelled ``label``; then Enter. The field is never cleared
        or filled first: a prefilled quantity is replaced only because the screen selects it
        when the field gets focus (what a packer relies on), so "5" typed over "1" must read
        "5", never "15"."""
        if len(args) == 1:
            (text,) = args
            field, label = self.focused_scan_field()
        elif len(args) == 2:
            label, text = args
            field = self.field(label)
            expect(field).to_be_focused()  # the scanner types wherever focus is
        else:
            raise TypeError("scan(text) or scan(label, text)")
        self.page.keyboard.type(text)
        expect(field, f"what the {label} field shows after a scan of {text!r}"
               ).to_have_value(text)
        self._press_enter(field, label)

    def enter(self, label: str) -> None:
        """Confirm what the field holds (a prefilled quantity) with Enter alone."""
        field = self.field(label)
        expect(field).to_be_focused()
        self._press_enter(field, label)

    def chip(self, name: str) -> None:
        """Tap an accepted step's chip to scan that step again."""
        self.click(name)

    @property
    def chips(self):
        return self.page.get_by_role("list", name="Scanned so far").get_by_role("button")

    def click(self, name: str) -> None:
        self._swapped(lambda: self.page.get_by_role("button", name=name, exact=True).click())

    def expect_step(self, step: str) -> None:
        expect(self.region).to_have_attribute("data-step", step)

    @property
    def error(self):
        return self.page.get_by_test_id("flow-error")

    @property
    def result(self):
        return self.page.get_by_test_id("result")

    @property
    def info(self):
        return self.page.get_by_test_id("step-info")

    def expect_error(self, code: str, step: str | None = None) -> None:
        """A refusal with ``code``; with ``step``: asked again there, focused (and emptied)."""
        expect(self.region).to_have_attribute("data-feedback", "error")
        expect(self.error).to_have_attribute("data-error-code", code)
        if step is None:
            return
        self.expect_step(step)
        field = self.page.locator(f"#scan-{step}")
        expect(field).to_be_focused()
        if step != "qty":
            expect(field).to_have_value("")

    def expect_result(self, *lines: str | re.Pattern) -> None:
        expect(self.region).to_have_attribute("data-feedback", "success")
        expect(self.error).to_have_count(0)
        expect(self.result.locator(".result-line")).to_have_text(list(lines))

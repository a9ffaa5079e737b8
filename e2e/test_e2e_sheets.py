"""The printed sheets say what they mean: each barcode on /commands and on a station's sheet,
as Chromium draws it (device_scale_factor=3, like a tablet's screen), decoded back from the
pixels with zxing-cpp (not read from the text under it). Typing is key by key, then Enter."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from e2e.conftest import DEMO
from lotline.commands import SHEET


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "device_scale_factor": 3}


@pytest.fixture
def console_errors(page):
    """The browser's console errors on ``page`` (a CSP refusal shows up there)."""
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def type_in(page, label: str, value: str) -> None:
    """Type ``value`` key by key over whatever the field holds (select all, then type)."""
    field = page.get_by_label(label, exact=True)
    field.click()
    page.keyboard.press("ControlOrMeta+A")
    field.press_sequentially(value)


def sign_in_typing(page, app_url, username="pat"):
    page.goto(app_url + "/login")
    type_in(page, "Username", username)
    type_in(page, "Password", DEMO[username])
    page.keyboard.press("Enter")
    page.wait_for_url(app_url + "/")


def decoded(locator, path) -> list[tuple[str, str]]:
    """What zxing-cpp reads in a screenshot of ``locator`` (text and format of each code)."""
    png = locator.screenshot(path=str(path))
    with Image.open(io.BytesIO(png)) as img:
        return [(r.text, r.format.name) for r in zxingcpp.read_barcodes(img)]


def test_every_command_on_the_sheet_decodes_to_its_text(page, console_errors, app_url,
                                                         viewport, tmp_path):
    sign_in_typing(page, app_url)
    page.goto(app_url + "/commands")
    expect(page.get_by_role("heading", name="Scanner commands")).to_be_visible()
    codes = page.locator("li.command svg.barcode")
    expect(codes).to_have_count(len(SHEET))
    for i, command in enumerate(SHEET):
        svg = page.locator(f'li.command[data-command="{command.text}"] svg.barcode')
        assert svg.count() == 1 and codes.nth(i).get_attribute("aria-label") == \
            f"Barcode {command.text}"
        assert decoded(svg, tmp_path / f"{viewport}-{i}.png") == [(command.text, "Code128")]
        box = svg.bounding_box()
        assert box["width"] <= page.viewport_size["width"]  # fits a phone's screen
    page.screenshot(path=str(tmp_path / f"commands-{viewport}.png"), full_page=True)
    assert not [e for e in console_errors if "Content Security Policy" in e]


def test_a_station_sheet_decodes_to_its_station_command(page, console_errors, app_url,
                                                        viewport, tmp_path):
    sign_in_typing(page, app_url)
    page.goto(app_url + "/station/sheet?name=PACK-07")
    expect(page.get_by_test_id("station-name")).to_have_text("PACK-07")
    svg = page.locator('[data-command="CMD:STATION:PACK-07"] svg.barcode')
    assert decoded(svg, tmp_path / "station.png") == [("CMD:STATION:PACK-07", "Code128")]
    assert svg.bounding_box()["width"] <= page.viewport_size["width"]
    assert not [e for e in console_errors if "Content Security Policy" in e]


def test_a_bad_station_name_is_refused_and_a_typed_one_gives_its_sheet(page, console_errors,
                                                                         app_url, tmp_path):
    sign_in_typing(page, app_url)
    response = page.goto(app_url + "/station/sheet?name=PACK%2F07")
    assert response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("“PACK/07” is not a station name")
    expect(page.locator("svg.barcode")).to_have_count(0)
    type_in(page, "Station name", "PACK 12")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("station-name")).to_have_text("PACK 12")
    svg = page.locator('[data-command="CMD:STATION:PACK 12"] svg.barcode')
    assert decoded(svg, tmp_path / "typed.png") == [("CMD:STATION:PACK 12", "Code128")]
    assert not [e for e in console_errors if "Content Security Policy" in e]

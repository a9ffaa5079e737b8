"""Barcodes drawn on the server as inline SVG, for printed sheets and labels.

python-barcode's ``SVGWriter`` (no Pillow) draws the bars; this module makes its output fit
inside an HTML page under the app's Content-Security-Policy:

- no XML declaration, doctype or comment (an HTML page holds the ``<svg>`` element alone);
- colours as ``fill`` attributes: the writer's ``style="fill:…"`` attributes are inline
  styles, which ``style-src 'self'`` blocks (the white background would turn black);
- a ``viewBox`` in millimetres, so the drawing keeps its printed size (``width``/``height``
  in mm) and can still be scaled down by CSS to fit a phone's screen;
- no ``id`` (a page with several barcodes would repeat it), and crisp edges.

No human-readable text is drawn: the page sets it under the barcode as HTML.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import barcode
from barcode.writer import SVGWriter

SVG_NS = "http://www.w3.org/2000/svg"
MM = re.compile(r"^(-?\d+(?:\.\d+)?)mm$")


def _mm(value: str) -> str:
    match = MM.match(value or "")
    if not match:
        return value
    return f"{float(match.group(1)):g}"


def code128_svg(text: str, *, module_width: float = 0.5, module_height: float = 15.0,
                quiet_zone: float = 6.5, label: str | None = None) -> str:
    """A Code 128 barcode of ``text`` as an ``<svg>`` element (a string).

    ``module_width`` is the narrowest bar in mm (0.5 mm reads well from a printed sheet and
    from a screenshot); ``module_height`` the bars' height in mm; ``quiet_zone`` the blank
    margin each side in mm (Code 128 needs at least ten modules). ``label`` is the accessible
    name (``aria-label``); by default "Barcode <text>".
    """
    out = io.BytesIO()
    barcode.get("code128", text, writer=SVGWriter()).write(out, options={
        "module_width": module_width, "module_height": module_height,
        "quiet_zone": quiet_zone, "write_text": False})
    root = ET.fromstring(out.getvalue())  # our own output: the declaration and doctype go
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]
        el.attrib.pop("id", None)
        style = el.attrib.pop("style", None)
        if style:
            for part in style.split(";"):
                key, _, value = part.partition(":")
                if key.strip() == "fill" and value.strip():
                    el.set("fill", value.strip())
        for attr in ("x", "y", "width", "height"):
            if el.tag != "svg" and attr in el.attrib:
                el.set(attr, _mm(el.attrib[attr]))
    width, height = _mm(root.get("width", "")), _mm(root.get("height", ""))
    root.attrib.clear()
    root.attrib.update({
        "xmlns": SVG_NS, "width": f"{width}mm", "height": f"{height}mm",
        "viewBox": f"0 0 {width} {height}", "shape-rendering": "crispEdges",
        "role": "img", "aria-label": label if label is not None else f"Barcode {text}",
        "class": "barcode"})
    svg = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return re.sub(r">\s+<", "><", svg)

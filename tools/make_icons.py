"""Draw Lotline's PNG icons from the same shapes as static/icons/icon.svg (pure Python, zlib).

Run once after changing the icon; the PNGs are committed under static/icons/:

    python3 tools/make_icons.py

- icon-192.png, icon-512.png: the rounded tile on a transparent background ("any").
- maskable-192.png, maskable-512.png: full-bleed background, the mark inside the 80 % safe
  zone (its farthest corner is 179 of 256 units from the centre; the safe radius is 204.8).
- apple-touch-icon.png (180 px): full bleed, iOS rounds the corners itself.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "static" / "icons"
BLUE = (0x0B, 0x53, 0x94)
WHITE = (0xFF, 0xFF, 0xFF)
YELLOW = (0xFF, 0xD9, 0x66)
UNITS = 512  # the SVG's viewBox
RADIUS = 96  # the tile's corner radius, in viewBox units
# (x0, y0, x1, y1, colour) in viewBox units, painted in order over the background
MARK = [
    (120, 140, 180, 372, WHITE),  # the L's upright
    (120, 312, 312, 372, WHITE),  # the L's foot
    (332, 140, 392, 372, YELLOW),  # the bar
]
SAMPLES = 4  # supersampling per axis


def inside_tile(x: float, y: float, rounded: bool) -> bool:
    if not (0 <= x < UNITS and 0 <= y < UNITS):
        return False
    if not rounded:
        return True
    cx = min(max(x, RADIUS), UNITS - RADIUS)
    cy = min(max(y, RADIUS), UNITS - RADIUS)
    return (x - cx) ** 2 + (y - cy) ** 2 <= RADIUS ** 2


def colour_at(x: float, y: float, rounded: bool):
    if not inside_tile(x, y, rounded):
        return None
    for x0, y0, x1, y1, colour in reversed(MARK):
        if x0 <= x < x1 and y0 <= y < y1:
            return colour
    return BLUE


def render(size: int, rounded: bool) -> bytes:
    """RGBA rows, each preceded by PNG filter byte 0."""
    scale = UNITS / size
    rows = bytearray()
    offsets = [(i + 0.5) / SAMPLES for i in range(SAMPLES)]
    total = SAMPLES * SAMPLES
    for py in range(size):
        rows.append(0)
        for px in range(size):
            r = g = b = covered = 0
            for oy in offsets:
                for ox in offsets:
                    colour = colour_at((px + ox) * scale, (py + oy) * scale, rounded)
                    if colour is not None:
                        r, g, b, covered = r + colour[0], g + colour[1], b + colour[2], \
                            covered + 1
            if covered:
                rows += bytes((round(r / covered), round(g / covered), round(b / covered),
                               round(255 * covered / total)))
            else:
                rows += b"\0\0\0\0"
    return bytes(rows)


def png(size: int, rgba_rows: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rgba_rows, 9)) + chunk(b"IEND", b""))


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, size, rounded in (("icon-192.png", 192, True), ("icon-512.png", 512, True),
                                ("maskable-192.png", 192, False),
                                ("maskable-512.png", 512, False),
                                ("apple-touch-icon.png", 180, False)):
        (OUT / name).write_bytes(png(size, render(size, rounded)))
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Demo locations, stock and a purchase order, written through the real transactions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import inventory, locations
from .db import transaction
from .inventory import Actor
from .models import Item

# (sku, location, lot, qty): lot-tracked items carry lots; ICE-PACK-01's stock predates tracking
STOCK = [
    ("VIT-C-500", "A-01-01", "VC24A01", 40), ("VIT-C-500", "A-01-02", "VC24B07", 25),
    ("VIT-D3-1000", "A-01-03", "VD3-2407", 30), ("OMEGA-3-90", "A-01-04", "OM-5521", 18),
    ("PROBIO-30", "A-02-01", "PB-0915", 22), ("ZINC-50", "A-02-02", "ZN-7781", 35),
    ("MAG-400", "A-02-03", "MG-4410", 20), ("BAND-STRIP-100", "A-02-04", "BS-100-19", 60),
    ("GAUZE-10X10", "A-03-01", "GZ-3302", 45), ("SAL-SPRAY-30", "A-03-02", "SS-8840", 28),
    ("HAND-GEL-500", "A-03-03", "HG-5005", 50), ("GLUC-MTR-04", "B-01-01", "GM-1101", 12),
    ("ELECTRO-SALTS", "B-01-02", "ES-2020", 30), ("IBU-200-24", "B-01-03", "IB-6612", 80),
    ("PARA-500-16", "B-01-04", "PA-1187", 75), ("ANTIH-10-30", "B-02-01", "AH-3301", 40),
    ("SUNSCR-50-200", "B-02-02", "SC-5050", 24), ("EYE-DROP-10", "B-02-03", "ED-1010", 36),
    ("FIRST-AID-KIT", "B-02-04", "FA-4040", 10),
    ("THERM-DIG-01", "C-01-01", None, 15), ("BP-CUFF-02", "C-01-02", None, 8),
    ("PULSE-OX-03", "C-01-03", None, 14), ("TAPE-MED-25", "C-01-04", None, 100),
    ("GLOVE-NIT-M", "C-02-01", None, 40), ("GLOVE-NIT-L", "C-02-02", None, 40),
    ("MASK-FFP2-20", "C-02-03", None, 60), ("COTTON-BALL-200", "C-02-04", None, 30),
    ("LIP-BALM-SPF", "C-03-01", None, 90), ("TWEEZ-STEEL", "C-03-02", None, 25),
    ("SCISS-BAND", "C-03-03", None, 20),
]
UNTRACKED_THEN_TRACKED = [("ICE-PACK-01", "D-01-01", 16), ("ICE-PACK-01", "D-01-02", 9)]


DEMO_ORDERS = [
    ("SO-5001", "Bayside Pharmacy", "BP-2231",
     [{"sku": "VIT-C-500", "qty": 3}, {"sku": "THERM-DIG-01", "qty": 1},
      {"sku": "GLOVE-NIT-M", "qty": 2}]),
    ("SO-5002", "Hillcrest Clinic", "HC-88",
     [{"sku": "OMEGA-3-90", "qty": 2}, {"sku": "ICE-PACK-01", "qty": 1}]),
    ("SO-5003", "Riverside Care Home", "RCH-410",
     [{"sku": "PARA-500-16", "qty": 4}, {"sku": "PULSE-OX-03", "qty": 2},
      {"sku": "MASK-FFP2-20", "qty": 1}]),
    ("SO-5004", "Northgate Dental", "ND-19",
     [{"sku": "GAUZE-10X10", "qty": 2}, {"sku": "BP-CUFF-02", "qty": 1}]),
]


def seed_stock(session: Session) -> list[str]:
    codes = [f"{aisle}-{bay:02d}-{level:02d}" for aisle in "ABCD" for bay in (1, 2, 3)
             for level in (1, 2, 3, 4)]
    with transaction(session):
        for code in codes:
            locations.create_location(session, code, zone=code[0], type="storage")
        for n in range(1, 5):
            locations.create_location(session, f"RCV-{n:02d}", zone="DOCK", type="receiving")
            locations.create_location(session, f"PACK-{n:02d}", zone="PACK", type="pack")
        for n in range(1, 5):
            locations.create_location(session, f"E-01-{n:02d}", zone="E", type="storage")
    actor = Actor(None, "seed")
    expiry = dt.date.today() + dt.timedelta(days=540)
    for sku, code, lot, qty in STOCK:
        inventory.put(session, location=code, sku=sku, lot=lot, qty=qty, actor=actor,
                      expiry=expiry if lot else None)
    ice = select(Item).where(Item.sku == "ICE-PACK-01")
    with transaction(session):
        session.scalar(ice).require_lot = False
    for sku, code, qty in UNTRACKED_THEN_TRACKED:
        inventory.put(session, location=code, sku=sku, lot=None, qty=qty, actor=actor)
    from . import orders

    with transaction(session):
        # tracking switched on after stock existed: these need a count
        session.scalar(ice).require_lot = True
        inventory.create_purchase_order(session, "PO-1001", "Northwind Health", [
            {"sku": "VIT-C-500", "qty": 48}, {"sku": "GLOVE-NIT-M", "qty": 20},
            {"sku": "IBU-200-24", "qty": 36}])
        for number, customer, ref, lines in DEMO_ORDERS:
            orders.create_order(session, number, customer, lines, customer_ref=ref,
                                ship_to="1 Harbour Road, Portside")
    total = len(codes) + 12
    return [f"{total} locations", f"{len(STOCK) + len(UNTRACKED_THEN_TRACKED)} stock records",
            "purchase order PO-1001", f"{len(DEMO_ORDERS)} orders (SO-5001 …)",
            "ICE-PACK-01 has stock without a lot: see Needs cycle count"]

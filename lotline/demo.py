"""A small, realistic demo warehouse for ``flask seed-demo``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import items, users
from .db import transaction
from .errors import Conflict
from .gtin import check_digit
from .models import Item

DEMO_USERS = [("admin", "admin", "lotline-admin"), ("sam", "supervisor", "lotline-super"),
              ("pat", "packer", "lotline-packer"), ("kim", "packer", "lotline-packer")]

PRODUCTS = [
    # sku, description, require_lot, require_serial, lot_at_pack
    ("VIT-C-500", "Vitamin C 500 mg, 100 tablets", True, False, "follow"),
    ("VIT-D3-1000", "Vitamin D3 1000 IU, 60 capsules", True, False, "follow"),
    ("OMEGA-3-90", "Omega-3 fish oil, 90 softgels", True, False, "follow"),
    ("PROBIO-30", "Probiotic blend, 30 capsules", True, False, "follow"),
    ("ZINC-50", "Zinc 50 mg, 100 tablets", True, False, "follow"),
    ("MAG-400", "Magnesium 400 mg, 120 tablets", True, False, "follow"),
    ("BAND-STRIP-100", "Adhesive bandage strips, box of 100", True, False, "never"),
    ("GAUZE-10X10", "Sterile gauze 10x10 cm, 25 pack", True, False, "follow"),
    ("SAL-SPRAY-30", "Saline nasal spray 30 ml", True, False, "follow"),
    ("HAND-GEL-500", "Hand sanitiser gel 500 ml", True, False, "follow"),
    ("THERM-DIG-01", "Digital thermometer", False, True, "follow"),
    ("BP-CUFF-02", "Blood pressure monitor, upper arm", False, True, "follow"),
    ("PULSE-OX-03", "Fingertip pulse oximeter", False, True, "follow"),
    ("GLUC-MTR-04", "Glucose meter kit", True, True, "follow"),
    ("TAPE-MED-25", "Medical tape 2.5 cm x 5 m", False, False, "follow"),
    ("GLOVE-NIT-M", "Nitrile gloves M, box of 100", False, False, "follow"),
    ("GLOVE-NIT-L", "Nitrile gloves L, box of 100", False, False, "follow"),
    ("MASK-FFP2-20", "FFP2 masks, 20 pack", False, False, "always"),
    ("COTTON-BALL-200", "Cotton balls, 200 pack", False, False, "follow"),
    ("ICE-PACK-01", "Instant ice pack", True, False, "follow"),
    ("ELECTRO-SALTS", "Electrolyte salts, 20 sachets", True, False, "follow"),
    ("IBU-200-24", "Ibuprofen 200 mg, 24 tablets", True, False, "follow"),
    ("PARA-500-16", "Paracetamol 500 mg, 16 tablets", True, False, "follow"),
    ("ANTIH-10-30", "Antihistamine 10 mg, 30 tablets", True, False, "follow"),
    ("LIP-BALM-SPF", "Lip balm SPF 15", False, False, "follow"),
    ("SUNSCR-50-200", "Sunscreen SPF 50, 200 ml", True, False, "follow"),
    ("EYE-DROP-10", "Lubricating eye drops 10 ml", True, False, "follow"),
    ("TWEEZ-STEEL", "Stainless tweezers", False, False, "follow"),
    ("SCISS-BAND", "Bandage scissors", False, False, "follow"),
    ("FIRST-AID-KIT", "First aid kit, 40 pieces", True, True, "follow"),
]


def demo_gtin(n: int) -> str:
    body = f"0540000{n:06d}"
    return body + str(check_digit(body))


def seed(session: Session, hash_method: str) -> list[str]:
    out = []
    with transaction(session):
        if session.scalar(select(func.count()).select_from(Item)):
            raise Conflict("The database already has items; seed-demo only fills an empty one.")
        for username, role, password in DEMO_USERS:
            users.create_user(session, username, password, role, hash_method=hash_method)
            out.append(f"user {username:6} role {role:10} password {password}")
        for n, (sku, desc, lot, serial, mode) in enumerate(PRODUCTS, start=1):
            items.create_item(session, sku=sku, description=desc, gtin=demo_gtin(n),
                              require_lot=lot, require_serial=serial, lot_at_pack=mode)
    out.append(f"{len(PRODUCTS)} items")
    from .demo_stock import seed_stock

    out.extend(seed_stock(session))
    return out

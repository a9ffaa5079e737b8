"""Admin → Settings: Require Lot/Serial at Pack, stored, each change recorded."""

from sqlalchemy import select

from lotline import settings
from lotline.extensions import db
from lotline.models import SettingChange


def test_admin_turns_the_setting_on_and_off_and_each_change_is_recorded(as_role):
    b = as_role("admin", "boss")
    assert settings.get_setting(db.session, settings.REQUIRE_LOT_SERIAL_AT_PACK) is False
    assert b.post("/admin/settings", {"require_lot_serial_at_pack": "y"}).status_code == 302
    assert settings.get_setting(db.session, settings.REQUIRE_LOT_SERIAL_AT_PACK) is True
    b.post("/admin/settings", {})
    db.session.expire_all()
    assert settings.get_setting(db.session, settings.REQUIRE_LOT_SERIAL_AT_PACK) is False
    changes = db.session.scalars(select(SettingChange).order_by(SettingChange.id)).all()
    assert [(c.old_value, c.new_value, c.user.username) for c in changes] == [
        (None, "true", "boss"), ("true", "false", "boss")]
    page = b.get("/admin/settings").get_data(as_text=True)
    assert "boss" in page and "Require Lot/Serial at Pack" in page


def test_saving_without_a_change_records_nothing(as_role):
    b = as_role("admin")
    b.post("/admin/settings", {})
    assert db.session.scalars(select(SettingChange)).all() == []


def test_packer_and_supervisor_cannot_change_settings(as_role):
    for role in ("packer", "supervisor"):
        b = as_role(role)
        assert b.post("/admin/settings", {"require_lot_serial_at_pack": "y"}).status_code == 403
    assert settings.get_setting(db.session, settings.REQUIRE_LOT_SERIAL_AT_PACK) is False

"""Admin → Settings: Require Lot/Serial at Pack, stored, each change recorded."""

import pytest
from sqlalchemy import select

from lotline import settings
from lotline.errors import DomainError
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


# ---------------------------------------------------------------- the warehouse's date


def test_the_warehouse_date_follows_its_time_zone_across_midnight(app):
    import datetime as dt

    late = dt.datetime(2026, 12, 5, 23, 30, tzinfo=dt.UTC)
    assert settings.warehouse_today(db.session, late) == dt.date(2026, 12, 5)  # UTC
    settings.set_setting(db.session, settings.WAREHOUSE_TIME_ZONE,
                                "Asia/Tokyo", None)
    assert settings.warehouse_today(db.session, late) == dt.date(2026, 12, 6)
    settings.set_setting(db.session, settings.WAREHOUSE_TIME_ZONE,
                                "America/Chicago", None)
    early = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)
    assert settings.warehouse_today(db.session, early) == dt.date(2026, 12, 5)


@pytest.mark.parametrize("bad", ["Mars/Olympus", "", "../etc/passwd", "utc+2"])
def test_a_time_zone_that_is_not_one_is_refused(app, bad):
    with pytest.raises(DomainError) as refused:
        settings.set_setting(db.session, settings.WAREHOUSE_TIME_ZONE, bad, None)
    assert "IANA" in refused.value.message or "knows" in refused.value.message
    assert settings.get_setting(db.session, settings.WAREHOUSE_TIME_ZONE) == "UTC"


def test_admin_sets_the_time_zone_on_the_settings_screen(as_role):
    b = as_role("admin")
    bad = b.post("/admin/settings", {"warehouse_time_zone": "Atlantis/Capital"})
    assert bad.status_code == 422 and "is not a time zone" in bad.get_data(as_text=True)
    ok = b.post("/admin/settings", {"warehouse_time_zone": "Europe/Amsterdam"})
    assert ok.status_code == 302
    db.session.rollback()
    assert settings.get_setting(db.session, settings.WAREHOUSE_TIME_ZONE) == \
        "Europe/Amsterdam"
    page = b.get("/admin/settings").get_data(as_text=True)
    assert 'value="Europe/Amsterdam"' in page and "warehouse_time_zone" in page

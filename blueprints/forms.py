"""Flask-WTF forms, one per action."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

LOT_AT_PACK_CHOICES = [
    SelectChoice("follow", "Follow Require Lot (default)"),
    SelectChoice("always", "Always record a lot at pack"),
    SelectChoice("never", "Never record a lot at pack"),
]
ROLE_CHOICES = [SelectChoice("packer", "Packer"), SelectChoice("supervisor", "Supervisor"),
                SelectChoice("admin", "Admin")]


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class ItemForm(FlaskForm):
    sku = StringField("SKU", validators=[DataRequired(), Length(max=64)])
    description = StringField("Description", validators=[Optional(), Length(max=200)])
    gtin = StringField("GTIN", validators=[Optional(), Length(max=14)])
    require_lot = BooleanField("Require Lot Number")
    require_serial = BooleanField("Require Serial at pack")
    lot_at_pack = RadioField("Lot at pack", choices=LOT_AT_PACK_CHOICES, default="follow")
    min_shelf_life_days = IntegerField("Minimum shelf life at pack (days)", default=0,
                                       validators=[Optional(), NumberRange(0, 3650)])


class SettingsForm(FlaskForm):
    require_lot_serial_at_pack = BooleanField("Require Lot/Serial at Pack")
    warehouse_time_zone = StringField("Warehouse time zone", validators=[
        Optional(), Length(max=64)])  # left empty: unchanged


class NewUserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES)


class EditUserForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Active")
    password = PasswordField("New password", validators=[Optional(), Length(min=8, max=200)])


class UnlockSignInForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])

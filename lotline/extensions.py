"""Flask extensions as module globals, bound to an app in ``create_app``."""

from flask_compress import Compress
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# A pooled connection is tested before use, so a restarted server costs a reconnect, not an
# error (SQLAlchemy's pool_pre_ping).
db = SQLAlchemy(model_class=Base, engine_options={"pool_pre_ping": True})
migrate = Migrate()
login_manager = LoginManager()
compress = Compress()  # responses compressed (br, gzip) where the browser accepts it
csrf = CSRFProtect()  # forms and htmx (X-CSRFToken header); the bearer-token API is exempt

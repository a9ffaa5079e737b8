"""Flask extensions as module globals, bound to an app in ``create_app``."""

from flask_compress import Compress
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .prepared import TX_CONNECTION

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


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, which while ``lotline.db.write_transaction`` is open
    runs everything on that transaction's connection: an ORM read or flush inside an
    inventory change joins its transaction (and does not commit it by itself)."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None:
            connection = self.info.get(TX_CONNECTION)
            if connection is not None:
                return connection
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate()
login_manager = LoginManager()
compress = Compress()  # responses compressed (br, gzip) where the browser accepts it
csrf = CSRFProtect()  # forms and htmx (X-CSRFToken header); the bearer-token API is exempt

"""Every route of /api/v1, one module per actor (DESIGN §1). Importing this package registers them
all on ``api.routes.common.API`` in one fixed order (the order the router and the spec list them)."""

from api.routes.common import API as API

from api.routes import directory as directory  # isort: skip
from api.routes import window as window  # isort: skip
from api.routes import department as department  # isort: skip
from api.routes import courier as courier  # isort: skip
from api.routes import batch as batch  # isort: skip
from api.routes import cases as cases  # isort: skip
from api.routes import reports as reports  # isort: skip
from api.routes import tracking as tracking  # isort: skip
from api.routes import callbacks as callbacks  # isort: skip
from api import documents as documents  # isort: skip
from api.routes import custody as custody  # isort: skip
from api.routes import admin as admin  # isort: skip
from api.routes import catalogue as catalogue  # isort: skip
from api.routes import sms as sms  # isort: skip
from api import sessions as sessions  # isort: skip
from api.routes import todo as todo  # isort: skip
from api.routes import archive as archive  # isort: skip

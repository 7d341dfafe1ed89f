"""For the whole suite: passwords are hashed at argon2id's test cost (``HANDOFF_PASSWORD_COST=test``)
in this process, so sign-in tests spend their time on behaviour, not on 64 MiB hashes. Processes the
tests start choose their own cost through their environment; production refuses the test cost."""

from adapters.passwords import use_cost

use_cost("test")

"""A team opening its dashboard at once (issue 10): 24 concurrent clients of ONE tenant on
/dashboard and /notes, against the real server, SQLite and PostgreSQL.

Before, a request held a tenant connection and asked the same pool for a second one; ten
such requests wedged the tenant's pool (2 + 8) and everybody waited 30 s for a connection,
then got a 500. Now every answer is a 200, and none takes more than 5 s (a bound a hundred
times the usual answer: it catches a wedge, not a slow machine).
"""

from __future__ import annotations

import asyncio

from tests.support.burst import burst
from tests.support.server import AppServer, env_for


def test_24_concurrent_clients_of_one_tenant(settings):
    env = {**env_for(settings), "LOG_LEVEL": "WARNING", "RATE_LIMIT_SIGNIN": "off"}
    with AppServer(env) as server:
        result = asyncio.run(burst(server.url, clients=24, seconds=12, email="team@example.com"))
        log = server.output()
    assert result.answers > 24, result.summary()
    assert result.failures == [], result.summary()
    assert result.slower_than(5) == 0, result.summary()
    assert "Traceback" not in log and "QueuePool limit" not in log, log[-3000:]

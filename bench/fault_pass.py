"""The fault pass for a person (issue 15): N cases through the whole flow over HTTP, with the API
and two ``handoff worker`` processes on a private PostgreSQL cluster and a private RabbitMQ node
(spare ports, a temporary directory; never the machine's shared services), while the broker is
restarted, a worker is SIGKILLed and started again and PostgreSQL is restarted. Prints the figures
of tests/faults/test_fault_pass.py: cases, responses by status, 5xx, SMS out of order / lost /
duplicated, rows stuck, messages parked, chains not verified, SMS of unknown outcome
(technical_failure), elapsed time.

Run:  .venv/bin/python bench/fault_pass.py [--cases 200] [--concurrency 4] [--keep DIR]
Needs the PostgreSQL server binaries (/usr/lib/postgresql/*/bin) and RabbitMQ (/usr/lib/rabbitmq/bin).
Exits 1 when the figures show a fault (a 500, a lost, repeated or reordered SMS, a stuck row).
An SMS whose send was cut off and whose provider could not say what became of it ends
``technical_failure`` by design (the system never sends it twice); shown on its case and in the
staff's queue of failed SMS with its resend action, it is counted in its own line, not as lost,
and does not fail the pass. One that is not shown there is counted stuck.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fault_pass import PASS_CONNECTIONS, run_pass
from tests.support.private_pg import private_postgres
from tests.support.private_rabbit import private_rabbit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4, help="cases in flight at once")
    parser.add_argument("--keep", type=Path, help="copy the processes' logs and SMS files here")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="handoff-faults-"))
    try:
        with private_postgres(max_connections=PASS_CONNECTIONS) as pg, private_rabbit() as rabbit:
            print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
            figures = asyncio.run(
                run_pass(root, pg, rabbit, args.cases, args.concurrency, report=lambda line: print(line, flush=True))
            )
        if args.keep:
            shutil.copytree(root, args.keep, dirs_exist_ok=True, ignore=shutil.ignore_patterns("blobs"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(figures.report())
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    clean = figures.finished == args.cases and not figures.status_500 and not figures.failures
    clean = clean and not (figures.lost or figures.duplicated or figures.out_of_order)
    clean = clean and not (figures.stuck or figures.parked or figures.unverified)
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m tests.support.recorded_run <local.run arguments>``: `make run`, with every AWS operation its
functions perform recorded for the privilege test (tests.support.aws_operations), in the file named by
``OFFLINE_PUSH_AWS_OPERATIONS_LOG``. The e2e tests start the local stack this way."""

from __future__ import annotations

import os
import sys

from local.run import main
from tests.support import aws_operations

if __name__ == "__main__":
    aws_operations.install(log_path=os.environ.get(aws_operations.OPERATIONS_LOG_VARIABLE))
    sys.exit(main(sys.argv[1:]))

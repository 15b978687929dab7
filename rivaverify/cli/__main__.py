"""`python -m rivaverify.cli`: the `rivaverify` command."""

import sys

from rivaverify.cli import main

sys.exit(main())

import sys

from paxos_exp.check.cli import main

sys.exit(main())

import sys

from vqdb.cli import main

sys.exit(main())

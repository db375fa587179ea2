import sys

from openpacs.cli.main import main

sys.exit(main())

"""Entry point of the frozen POS: the same ``main()`` the ``posdesk`` console script runs."""

import sys

from posdesk.gui.__main__ import main

if __name__ == "__main__":
    sys.exit(main())

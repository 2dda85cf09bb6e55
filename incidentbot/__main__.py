"""`python -m incidentbot` starts the bot, exactly like `python app.py`."""

import sys

from incidentbot.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

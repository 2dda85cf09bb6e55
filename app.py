"""incidentbot: `python app.py` is the one way to start the bot. See README.md."""

import sys

from incidentbot.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`python -m incidentbot` starts the bot, exactly like `python app.py`;
`python -m incidentbot postmortem <number>` prints a postmortem (see `cli.py`).
"""

import sys

from incidentbot import cli
from incidentbot.main import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.exit(cli.main(argv) if argv[:1] and argv[0] in cli.COMMANDS else main(argv))

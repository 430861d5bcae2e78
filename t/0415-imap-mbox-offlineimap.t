#!/usr/bin/env python3
"""offlineimap against imap-session with mailbox_format = mbox: the same
sync as t/0410-imap-offlineimap.t, the server keeping mbox files."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imaptest import run_mbox_variant  # noqa: E402

run_mbox_variant("0410-imap-offlineimap.t")

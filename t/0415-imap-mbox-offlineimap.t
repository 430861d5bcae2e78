#!/usr/bin/env python3
"""offlineimap against imap-session with mailbox_format = mbox: the same
sync as t/0410-imap-offlineimap.t, the server keeping mbox files."""
import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ["YUBIN_T_MBOX"] = "1"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "0410-imap-offlineimap.t"), run_name="__main__")

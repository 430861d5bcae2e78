#!/usr/bin/env python3
"""mbsync (isync) against imap-session with mailbox_format = mbox: the
same two-way sync as t/0402-imap-mbsync.t (new, changed and deleted
messages on each side, nested folders), the server keeping mbox files."""
import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ["YUBIN_T_MBOX"] = "1"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "0402-imap-mbsync.t"),
               run_name="__main__")

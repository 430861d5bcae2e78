#!/usr/bin/env python3
"""mbsync (isync) against imap-session with mailbox_format = mbox: the
same two-way sync as t/0402-imap-mbsync.t (new, changed and deleted
messages on each side, nested folders), the server keeping mbox files."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imaptest import run_mbox_variant  # noqa: E402

run_mbox_variant("0402-imap-mbsync.t")

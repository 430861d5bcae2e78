#!/usr/bin/env python3
"""The client replays of t/0418-imap-client-replay.t (Thunderbird, Apple
Mail, iOS Mail, mutt, K-9, Alpine, folders, searches, two devices) with
mailbox_format = mbox: imap-session on mbox files must give the answers
Dovecot gives on Maildir (keyword lists in FLAGS aside)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imaptest import run_mbox_variant  # noqa: E402

run_mbox_variant("0418-imap-client-replay.t")

"""Notifications to people: an escalation, a deadline about to be missed and a missed deadline
reach the staff named for them (per org unit and role, a setting), by e-mail and by a chat group
robot (WeCom / DingTalk), each sent once whatever the number of routing replicas, retried with
backoff, and recorded on the case's history.

    domain.py   who is told (the directory), when a warning is due, what the message says
    models.py   the ``notifications`` table: one row per message to one person or chat
    service.py  queueing in the transaction of the fact, the watcher's three steps
    senders.py  SMTP (the standard library) and the robots' JSON webhooks
"""

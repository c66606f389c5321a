"""Stage 4, badges: the number on the app icon, counted once per (message, receiver) this run owns.

A message that counts (not ``BadgeMode: 1`` / ``IgnoreBadge``) adds one to the receiver's counter, and the
notification carries the new value. A job may give the badges itself (``Badges``): then nothing is counted.
The counters of a run's receivers are added in batches (:meth:`RegistrationStore.add_to_badges`); a
receiver with several messages in the run gets one addition of their number, each message its own value.
"""

from __future__ import annotations

from collections import defaultdict

from offline_push.errors import StorageError
from offline_push.logic.dispatch.work import Item, Run


def assign_badges(run: Run, owned: list[Item]) -> None:
    def counted(item: Item) -> bool:
        delivery = item.delivery
        return delivery.counts_toward_badge and not delivery.badge_supplied and not item.gone

    wanted: dict[tuple[int, str], list[str]] = defaultdict(list)  # (app, user) -> message keys, in order
    base: dict[tuple[int, str], int] = {}
    for item in filter(counted, owned):
        key = item.key
        user = (key.sdk_app_id, key.user_id)
        if key.msg_key not in wanted[user]:
            wanted[user].append(key.msg_key)
        base[user] = item.registered_badge
    if not wanted:
        return
    per_app: dict[int, dict[str, int]] = defaultdict(dict)
    for (app, user_id), messages in wanted.items():
        per_app[app][user_id] = len(messages)
    new_values: dict[tuple[int, str], int] = {}
    for app, increments in per_app.items():
        try:
            added = run.parts.registrations.add_to_badges(app, increments)
        except StorageError:
            added = {}
        new_values.update({(app, user): value for user, value in added.items()})
    for item in filter(counted, owned):
        key = item.key
        user = (key.sdk_app_id, key.user_id)
        messages = wanted[user]
        position = messages.index(key.msg_key)
        top = new_values.get(user)
        # The counter's new value is for this run's last message to the receiver; without it (the addition
        # failed), the value read with the registrations plus one per message is the best guess.
        last = top if top is not None else base[user] + len(messages)
        item.delivery.badge = last - len(messages) + 1 + position

"""Seed a migrated pretix database for ``bench.peers``; run with pretix's own Python.

    PRETIX_CONFIG_FILE=... bench/peers/pretix/.venv/bin/python bench/peers/pretix/seed.py \
        --orders 8200 --out seed.json

Makes what ``bench.checkin`` and ``bench.registration`` make for Festival: an
organizer and two live events (the door's, the registration's), each with one
free admission product, a quota of 1,000,000 places (Festival's registration
festival has the same capacity) and a check-in list covering all products;
``--orders`` paid orders of one position each at the door's event (bulk
inserts, like ``bench.checkin.seed_tickets``: the API would take minutes for
them); and a team API token with every permission. Writes a JSON file: the
token, the organizer's slug, the door's check-in list and the positions' ticket
secrets, the registration event's slug and product.

This file imports Django and pretix, which live only in pretix's venv; the
project's venv never imports it (mypy checks only the project's packages).
"""

from __future__ import annotations

import argparse
import json
import os
import string
from datetime import timedelta
from decimal import Decimal

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pretix.settings")
django.setup()

from django.db import transaction  # noqa: E402  (after django.setup())
from django.utils.crypto import get_random_string  # noqa: E402
from django.utils.timezone import now  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402
from pretix.base.models import (  # noqa: E402
    CheckinList,
    Event,
    Item,
    Order,
    OrderPosition,
    Organizer,
    Quota,
    Team,
)

# pretix's own alphabets: order codes (pretix.base.models.orders) and the
# default "random" ticket secret generator (pretix.base.secrets).
CODE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ3789"
SECRET_CHARS = "abcdefghjkmnpqrstuvwxyz23456789"
CAPACITY = 1_000_000


def event(organizer: Organizer, slug: str) -> tuple[Event, Item]:
    """A live event with a free admission product, CAPACITY places and a door list."""
    start = now() + timedelta(days=30)
    made = Event.objects.create(
        organizer=organizer,
        name=f"Bench Festival {slug}",
        slug=slug,
        date_from=start,
        date_to=start + timedelta(days=1),
        currency="EUR",
        live=True,
    )
    item = Item.objects.create(
        event=made, name="Admission", default_price=Decimal("0.00"), admission=True
    )
    quota = Quota.objects.create(event=made, name="Places", size=CAPACITY)
    quota.items.add(item)
    CheckinList.objects.create(event=made, name="Door", all_products=True)
    return made, item


def seed(orders: int) -> dict[str, object]:
    with scopes_disabled(), transaction.atomic():
        organizer = Organizer.objects.create(name="Bench", slug="bench")
        # Two events, as bench.checkin and bench.registration use two festivals: the
        # door's holds the seeded orders, registration's starts empty (pretix counts
        # a quota's sold places on every order).
        door_event, door_item = event(organizer, "door")
        signup_event, signup_item = event(organizer, "signup")
        door = door_event.checkin_lists.get()
        team = Team.objects.create(
            organizer=organizer,
            name="Bench",
            all_events=True,
            all_event_permissions=True,
            all_organizer_permissions=True,
        )
        token = team.tokens.create(name="bench")
        channel = organizer.sales_channels.get(identifier="web")

        at = now()
        codes: set[str] = set()
        while len(codes) < orders:
            codes.add(get_random_string(8, CODE_CHARS))
        paid = Order.objects.bulk_create(
            [
                Order(
                    event=door_event,
                    organizer=organizer,
                    code=code,
                    status=Order.STATUS_PAID,
                    email=f"guest{n}@bench.example.org",
                    locale="en",
                    datetime=at,
                    expires=at + timedelta(days=30),
                    total=Decimal("0.00"),
                    sales_channel=channel,
                )
                for n, code in enumerate(sorted(codes))
            ],
            batch_size=1000,
        )
        secrets = [get_random_string(32, SECRET_CHARS) for _ in paid]
        OrderPosition.all.bulk_create(
            [
                OrderPosition(
                    order=order,
                    organizer=organizer,
                    positionid=1,
                    item=door_item,
                    price=Decimal("0.00"),
                    tax_rate=Decimal("0.00"),
                    tax_value=Decimal("0.00"),
                    secret=secret,
                    pseudonymization_id=get_random_string(10, string.ascii_uppercase),
                    attendee_name_cached=f"Guest {n}",
                    attendee_name_parts={"_scheme": "full", "full_name": f"Guest {n}"},
                )
                for n, (order, secret) in enumerate(zip(paid, secrets, strict=True))
            ],
            batch_size=1000,
        )
    return {
        "token": token.token,
        "organizer": organizer.slug,
        "list": door.pk,
        "secrets": secrets,
        "signup_event": signup_event.slug,
        "signup_item": signup_item.pk,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "w") as out:
        json.dump(seed(args.orders), out)


if __name__ == "__main__":
    main()

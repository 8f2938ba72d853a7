"""What each role of a festival's team may do.

A route asks for a permission, never for a role, so a new role is one line
here. ``Festival.owner_id`` (the account that created the festival) is always
an owner, with or without a member row (:mod:`festival.members`).

- owner: everything, the festival's settings, publishing, staff tokens and
  the team included;
- editor: the programme (tracks, rooms, speakers, sessions, imports), the
  messages to attendees, and the live sessions (questions, polls, projector links);
- registrations: the attendees (lists, ``attendees.csv``, one attendee's
  export and erasure) and the door's side (devices, check-in counts);
- viewer: reads the festival and its programme, drafts included, and the
  check-in counts; no personal data.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    FESTIVAL = "festival"  # settings, publish, staff tokens, the team
    PROGRAMME = "programme"  # tracks, rooms, speakers, sessions, imports
    MESSAGES = "messages"  # the organiser's messages to attendees
    LIVE = "live"  # moderate questions and polls, projector links, their CSVs
    ATTENDEES = "attendees"  # registrations, attendees.csv, export and erasure of one
    CHECKIN = "checkin"  # devices of the door
    READ = "read"  # the festival and programme (drafts too), check-in counts


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "owner": frozenset(Permission),
    "editor": frozenset(
        {Permission.PROGRAMME, Permission.MESSAGES, Permission.LIVE, Permission.READ}
    ),
    "registrations": frozenset({Permission.ATTENDEES, Permission.CHECKIN, Permission.READ}),
    "viewer": frozenset({Permission.READ}),
}
ROLES = tuple(ROLE_PERMISSIONS)


def allows(role: str | None, permission: Permission) -> bool:
    return role is not None and permission in ROLE_PERMISSIONS.get(role, frozenset())


def roles_with(permission: Permission) -> tuple[str, ...]:
    return tuple(role for role, granted in ROLE_PERMISSIONS.items() if permission in granted)

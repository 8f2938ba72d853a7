"""A festival's registration questions, and the answers people give.

The organiser (the registrations role) keeps the list: text, one choice,
several choices, yes/no, each ``required`` or not, with help text, in order,
and marked ``at_door`` when the door screen should show the answer (an access
need, say). A registration's answers are checked here before anything of the
registration is written (:func:`check`): a required question unanswered, an
answer outside the choices or of the wrong shape, an unknown question: ``422``
naming ``answers.<question id>``. Each answer keeps the question's label as it
was answered, and a question removed is archived, not deleted, so changing the
form never makes an answer unreadable.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.db import utcnow
from festival.errors import Conflict, Invalid, NotFound
from festival.models import Festival
from festival.roles import Permission
from festival.service import get_festival, get_managed_festival
from tickets.models import Registration, RegistrationAnswer, RegistrationQuestion
from tickets.schemas import Answer, AnswerRead, QuestionCreate, QuestionRead, QuestionUpdate

MAX_TEXT = 2000
CHOOSING = ("choice", "choices")


def active(festival_id: uuid.UUID) -> Any:
    return (
        select(RegistrationQuestion)
        .where(
            RegistrationQuestion.festival_id == festival_id,
            RegistrationQuestion.archived_at.is_(None),
        )
        .order_by(RegistrationQuestion.position, RegistrationQuestion.created_at)
    )


async def of_festival(
    session: AsyncSession, festival_id: uuid.UUID
) -> Sequence[RegistrationQuestion]:
    return (await session.scalars(active(festival_id))).all()


async def listed(
    session: AsyncSession, principal: Principal | None, slug: str
) -> list[QuestionRead]:
    """The form's questions, in order, for anyone who may see the festival."""
    festival = await get_festival(session, principal, slug)
    return [QuestionRead.model_validate(q) for q in await of_festival(session, festival.id)]


def _check_choices(kind: str, choices: list[str] | None) -> None:
    if kind in CHOOSING and not choices:
        raise Invalid("A choice question needs its choices", field="choices")
    if kind not in CHOOSING and choices:
        raise Invalid(f"A {kind} question has no choices", field="choices")
    if choices and len(set(choices)) != len(choices):
        raise Invalid("The choices repeat one another", field="choices")


async def create(
    session: AsyncSession, principal: Principal, slug: str, data: QuestionCreate
) -> QuestionRead:
    festival = await get_managed_festival(session, principal, slug, Permission.ATTENDEES)
    _check_choices(data.kind, data.choices)
    position = data.position
    if position is None:
        last = await session.scalar(
            select(func.max(RegistrationQuestion.position)).where(
                RegistrationQuestion.festival_id == festival.id,
                RegistrationQuestion.archived_at.is_(None),
            )
        )
        position = 0 if last is None else last + 1
    question = RegistrationQuestion(
        id=uuid.uuid4(),
        festival_id=festival.id,
        position=position,
        kind=data.kind,
        label=data.label,
        help=data.help,
        required=data.required,
        choices=data.choices,
        at_door=data.at_door,
    )
    session.add(question)
    await session.flush()
    return QuestionRead.model_validate(question)


async def _managed_question(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    question_id: uuid.UUID,
    *,
    archived_too: bool = False,
) -> RegistrationQuestion:
    festival = await get_managed_festival(session, principal, slug, Permission.ATTENDEES)
    found = select(RegistrationQuestion).where(
        RegistrationQuestion.id == question_id, RegistrationQuestion.festival_id == festival.id
    )
    if not archived_too:
        found = found.where(RegistrationQuestion.archived_at.is_(None))
    question = await session.scalar(found)
    if question is None:
        raise NotFound(f"No question {question_id}")
    return question


async def update(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    question_id: uuid.UUID,
    data: QuestionUpdate,
) -> QuestionRead:
    """Change a question; answers already given keep their label and value."""
    question = await _managed_question(session, principal, slug, question_id)
    changes = data.model_dump(exclude_unset=True)
    for name in ("label", "required", "at_door", "position"):
        if name in changes and changes[name] is None:
            raise Invalid(f"{name} cannot be null", field=name)
    if "choices" in changes:
        _check_choices(question.kind, changes["choices"])
    for name, value in changes.items():
        setattr(question, name, value)
    await session.flush()
    return QuestionRead.model_validate(question)


async def archive(
    session: AsyncSession, principal: Principal, slug: str, question_id: uuid.UUID
) -> None:
    """Take a question off the form; its answers stay, readable. Twice is once."""
    question = await _managed_question(session, principal, slug, question_id, archived_too=True)
    if question.archived_at is None:
        question.archived_at = utcnow()
        await session.flush()


def check(
    questions: Sequence[RegistrationQuestion], answers: dict[uuid.UUID, Answer] | None
) -> list[tuple[RegistrationQuestion, Answer]]:
    """The answers, checked against the form (see the module); ``Invalid`` naming
    the first question that is wrong."""
    given = dict(answers or {})
    known = {q.id: q for q in questions}
    for question_id in given:
        if question_id not in known:
            raise Invalid(f"No question {question_id} on this form", field=f"answers.{question_id}")
    checked = []
    for question in questions:
        value = given.get(question.id)
        if value is None or value == "" or value == []:
            if question.required:
                raise _wrong(question, "is required")
            continue
        checked.append((question, _checked(question, value)))
    return checked


def _checked(question: RegistrationQuestion, value: Answer) -> Answer:
    choices = question.choices or []
    if question.kind == "yes_no":
        if not isinstance(value, bool):
            raise _wrong(question, "takes true or false")
        return value
    if question.kind == "text":
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise _wrong(question, f"takes text of at most {MAX_TEXT} characters")
        return value.strip()
    if question.kind == "choice":
        if not isinstance(value, str) or value not in choices:
            raise _wrong(question, f"takes one of: {', '.join(choices)}")
        return value
    if not isinstance(value, list) or not all(v in choices for v in value):
        raise _wrong(question, f"takes some of: {', '.join(choices)}")
    return [c for c in choices if c in value]  # in the form's order, once each


def _wrong(question: RegistrationQuestion, why: str) -> Invalid:
    return Invalid(f"{question.label!r} {why}", field=f"answers.{question.id}")


async def record(
    session: AsyncSession,
    registration_id: uuid.UUID,
    checked: list[tuple[RegistrationQuestion, Answer]],
) -> None:
    """Write a registration's checked answers (replacing any it had)."""
    await session.execute(
        delete(RegistrationAnswer).where(RegistrationAnswer.registration_id == registration_id)
    )
    if checked:
        now = utcnow()
        await session.execute(
            insert(RegistrationAnswer),
            [
                {
                    "registration_id": registration_id,
                    "question_id": question.id,
                    "label": question.label,
                    "value": value,
                    "answered_at": now,
                }
                for question, value in checked
            ],
        )


async def answers_of(session: AsyncSession, registration_id: uuid.UUID) -> list[AnswerRead]:
    rows = await session.execute(
        select(RegistrationAnswer.question_id, RegistrationAnswer.label, RegistrationAnswer.value)
        .join(RegistrationQuestion, RegistrationQuestion.id == RegistrationAnswer.question_id)
        .where(RegistrationAnswer.registration_id == registration_id)
        .order_by(RegistrationQuestion.position, RegistrationQuestion.created_at)
    )
    return [AnswerRead(question_id=q, label=label, value=value) for q, label, value in rows]


def starts_at(festival: Festival) -> datetime:
    """When the festival's first day begins in its zone: answers close then."""
    return datetime.combine(festival.starts_on, time(), ZoneInfo(festival.timezone))


async def change(
    session: AsyncSession,
    festival: Festival,
    registration: Registration,
    answers: dict[uuid.UUID, Answer],
) -> None:
    """An attendee's new answers (all of them), until the festival starts."""
    if utcnow() >= starts_at(festival):
        raise Conflict("Answers can be changed until the festival starts", field="answers")
    checked = check(await of_festival(session, festival.id), answers)
    await record(session, registration.id, checked)

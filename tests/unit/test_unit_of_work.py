"""One unit of work per service entry point: the outermost call commits once, inner calls flush,
an error rolls everything back; views never commit."""
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.models import Activity, ActivityKind
from app.services.core.unit_of_work import transactional
from app.services.crm.activities import add_note, create_activity

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def commits(db):
    seen = []
    listener = lambda session: seen.append(1)  # noqa: E731
    event.listen(db.session, "after_commit", listener)
    yield seen
    event.remove(db.session, "after_commit", listener)


def test_an_entry_point_calling_others_commits_once(db, commits):
    @transactional
    def open_with_note():
        activity = create_activity(ActivityKind.GENERAL, subject="Pratica")
        add_note(activity, None, "prima nota")
        return activity

    activity = open_with_note()
    assert len(commits) == 1
    db.session.rollback()
    assert db.session.get(Activity, activity.id).history[-1].note == "prima nota"


def test_an_error_inside_the_unit_rolls_back_what_the_inner_calls_did(db, commits):
    @transactional
    def fails_after_creating():
        create_activity(ActivityKind.GENERAL, subject="Da non salvare")
        raise ValueError("refused")

    with pytest.raises(ValueError):
        fails_after_creating()
    assert commits == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Activity)) == 0


def test_views_never_commit():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "app" / "views").rglob("*.py")
                 if "session.commit(" in p.read_text(encoding="utf-8")]
    assert offenders == []

"""Moderation's rules on the database (web/moderation): flags stored with the analysis, the
actions (claims, optimistic locking, decisions, escalation, appeals, bulk), the audit trail
(append-only, down to the database), the effects on who sees an item and on its index row,
re-analysis keeping decisions, a video's windows merged into ranges, policies and precision.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from jobs.models import OutboxMessage
from media.actions import commands
from media.indexing import index_row, index_rows
from media.models import MediaItem, Shot
from moderation import actions, active, precision, states, storing, visibility
from moderation.models import AppendOnly, AuditEvent, Flag, PolicyRecord, WindowHits

from .test_moderation_support import concept_hit, flagged_item, reanalyse, text_hit, with_role


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Many users per test: a fast hasher (what a password hashes to is not tested here)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def mods(make_user):
    return (
        with_role(make_user, "mod1", "moderator"),
        with_role(make_user, "mod2", "moderator"),
    )


@pytest.fixture
def admin(make_user):
    return with_role(make_user, "boss", "admin")


@pytest.fixture
def flagged(alice, bank_embeddings):
    """alice's public photo with a personal-data flag (not hiding)."""
    item = flagged_item(alice, bank_embeddings, [text_hit(0.93)])
    return item, item.flags.get()


def actions_of(item) -> list[str]:
    return list(
        AuditEvent.objects.filter(item_id=item.pk)
        .order_by("at", "id")
        .values_list("action", flat=True)
    )


def reindex_asked(item) -> bool:
    return OutboxMessage.objects.filter(task="media.index", item_id=item.pk).exists()


# -- stored at analysis time --------------------------------------------------------------


def test_an_analysis_stores_one_flag_per_hit_with_its_evidence_and_an_audit_row(flagged):
    item, flag = flagged
    assert (flag.policy, flag.score, flag.hide, flag.state, flag.version) == (
        "personal-data",
        0.93,
        False,
        "pending",
        1,
    )
    assert flag.evidence[0]["match"] == "555 0134" and flag.counterfactual["after"] == 0.0
    assert flag.action == "restrict"  # the shipped personal-data policy restricts
    assert flag.is_open and flag.age < dt.timedelta(minutes=1)
    event = AuditEvent.objects.get(flag=flag)
    assert (event.action, event.actor, event.policy) == ("flag.created", None, "personal-data")
    assert event.after["state"] == "pending"


def test_an_analysis_without_hits_stores_no_flag(alice, bank_embeddings):
    item = flagged_item(alice, bank_embeddings, [])
    assert not item.flags.exists() and actions_of(item) == []


# -- claims and optimistic locking ---------------------------------------------------------


def test_claim_release_confirm_moves_the_version_and_audits_each_step(flagged, mods, bob):
    item, flag = flagged
    mod1, _ = mods
    claimed = actions.claim(flag.pk, mod1, 1)
    assert (claimed.state, claimed.version, claimed.claimed_by) == ("claimed", 2, mod1)
    again = actions.claim(flag.pk, mod1, 2)  # one's own claim: nothing changes
    assert again.version == 2
    released = actions.release(flag.pk, mod1, 2)
    assert (released.state, released.version, released.claimed_by) == ("pending", 3, None)
    actions.claim(flag.pk, mod1, 3)
    OutboxMessage.objects.all().delete()
    done = actions.decide(flag.pk, mod1, 4, "confirm", "a phone number <script>")
    assert (done.state, done.version, done.decided_by, done.reason) == (
        "confirmed",
        5,
        mod1,
        "a phone number <script>",
    )
    assert done.claimed_by is None
    assert actions_of(item) == [
        "flag.created",
        "flag.claimed",
        "flag.released",
        "flag.claimed",
        "flag.confirmed",
        "item.visibility",
    ]
    confirmed = AuditEvent.objects.get(action="flag.confirmed")
    assert confirmed.actor == mod1 and confirmed.actor_name == "mod1"
    assert (confirmed.before["state"], confirmed.after["state"]) == ("claimed", "confirmed")
    assert confirmed.reason == "a phone number <script>"
    shown = AuditEvent.objects.get(action="item.visibility")
    assert shown.before == {"hidden": False, "removed": False, "restricted": False}
    assert shown.after == {"hidden": False, "removed": False, "restricted": True}
    # restricted: out of everyone else's querysets, carried to the index in the transaction
    assert not MediaItem.objects.visible_to(bob).filter(pk=item.pk).exists()
    assert MediaItem.objects.visible_to(item.owner).filter(pk=item.pk).exists()
    assert reindex_asked(item) and MediaItem.objects.get(pk=item.pk).needs_reindex


def test_deciding_a_flag_someone_else_decided_is_a_conflict_with_its_state(flagged, mods):
    _, flag = flagged
    mod1, mod2 = mods
    actions.decide(flag.pk, mod1, 1, "dismiss", "not a number")
    with pytest.raises(actions.Conflict) as stale:  # the version mod2 saw
        actions.decide(flag.pk, mod2, 1, "confirm")
    assert (stale.value.state, stale.value.version) == ("dismissed", 2)
    with pytest.raises(actions.Conflict) as decided:  # the current version, but decided
        actions.decide(flag.pk, mod2, 2, "confirm")
    assert (
        decided.value.state == "dismissed" and "cannot be given 'confirm'" in decided.value.detail
    )
    assert Flag.objects.get(pk=flag.pk).decided_by == mod1


def test_a_fresh_claim_holds_others_off_and_a_stale_one_may_be_taken_over(flagged, mods, settings):
    _, flag = flagged
    mod1, mod2 = mods
    settings.MODERATION = {"CLAIM_STALE_S": 600}
    actions.claim(flag.pk, mod1, 1)
    with pytest.raises(actions.Conflict) as held:
        actions.claim(flag.pk, mod2, 2)
    assert "mod1 is reviewing" in held.value.detail
    with pytest.raises(actions.Conflict):
        actions.decide(flag.pk, mod2, 2, "dismiss")
    with pytest.raises(actions.Forbidden):
        actions.release(flag.pk, mod2, 2)
    Flag.objects.filter(pk=flag.pk).update(claimed_at=timezone.now() - dt.timedelta(seconds=601))
    taken = actions.claim(flag.pk, mod2, 2)
    assert (taken.claimed_by, taken.version) == (mod2, 3)
    event = AuditEvent.objects.filter(action="flag.claimed").latest("id")
    assert (event.before["claimed_by"], event.after["claimed_by"]) == ("mod1", "mod2")


def test_only_moderators_review_and_nobody_reviews_their_own_item(
    flagged, make_user, bank_embeddings
):
    _, flag = flagged
    operator = with_role(make_user, "ops", "operator")
    member = make_user("carol")
    for user in (operator, member, flag.item.owner):
        with pytest.raises(actions.Forbidden):
            actions.claim(flag.pk, user, 1)
        with pytest.raises(actions.Forbidden):
            actions.decide(flag.pk, user, 1, "dismiss")
        with pytest.raises(actions.Forbidden):
            actions.queue(user)
    self_mod = with_role(make_user, "selfmod", "moderator")
    own = flagged_item(self_mod, bank_embeddings, [text_hit()]).flags.get()
    with pytest.raises(actions.Forbidden, match="their own"):
        actions.decide(own.pk, self_mod, 1, "dismiss")
    with pytest.raises(actions.NotFound):
        actions.claim(10**9, flag.item.owner, 1)
    with pytest.raises(ValueError):
        actions.decide(flag.pk, self_mod, 1, "approve")


def test_an_escalated_flag_is_decided_by_an_admin(flagged, mods, admin):
    _, flag = flagged
    mod1, mod2 = mods
    escalated = actions.escalate(flag.pk, mod1, 1, "not sure: a shop's number?")
    assert (escalated.state, escalated.reason) == ("escalated", "not sure: a shop's number?")
    with pytest.raises(actions.Forbidden):
        actions.decide(flag.pk, mod2, 2, "confirm")
    with pytest.raises(actions.Forbidden):
        actions.claim(flag.pk, mod2, 2)
    claimed = actions.claim(flag.pk, admin, 2)
    assert claimed.state == "escalated" and claimed.claimed_by == admin  # a claim, same state
    done = actions.decide(flag.pk, admin, 3, "dismiss", "a shop's number")
    assert (done.state, done.decided_by) == ("dismissed", admin)


# -- appeals --------------------------------------------------------------------------


def test_the_owner_appeals_once_and_another_moderator_reinstates(flagged, mods, bob):
    item, flag = flagged
    mod1, mod2 = mods
    owner = item.owner
    with pytest.raises(actions.Conflict, match="only a confirmed flag"):
        actions.appeal(item, owner, "it is my own number")
    actions.decide(flag.pk, mod1, 1, "confirm", "a phone number")
    with pytest.raises(actions.NotFound):  # not bob's item, even though he could see it
        actions.appeal(item, bob, "let me")
    with pytest.raises(ValueError):
        actions.appeal(item, owner, "   ")
    made = actions.appeal(item, owner, "it is <b>my shop's</b> number")
    assert (made.flag_id, made.author, made.message) == (
        flag.pk,
        owner,
        "it is <b>my shop's</b> number",
    )
    flag.refresh_from_db()
    assert flag.state == "appealed" and flag.is_open  # back in the queue
    assert visibility.state_for(item).restricted  # the confirmation stands meanwhile
    with pytest.raises(actions.Conflict) as second:
        actions.appeal(item, owner, "again")
    assert second.value.state == "appealed"
    assert list(actions.queue(mod2)) == [flag]
    with pytest.raises(actions.Forbidden, match="other than the one who confirmed"):
        actions.decide(flag.pk, mod1, flag.version, "reinstate")
    with pytest.raises(actions.Conflict):  # an appeal takes uphold or reinstate
        actions.decide(flag.pk, mod2, flag.version, "dismiss")
    done = actions.decide(flag.pk, mod2, flag.version, "reinstate", "a shop's public number")
    assert (done.state, done.decided_by) == ("reinstated", mod2)
    made.refresh_from_db()
    assert (made.decided_by, made.reason) == (mod2, "a shop's public number")
    assert MediaItem.objects.visible_to(bob).filter(pk=item.pk).exists()
    with pytest.raises(actions.Conflict):  # reinstated: nothing left to appeal
        actions.appeal(item, owner, "thanks")
    assert actions_of(item) == [
        "flag.created",
        "flag.confirmed",
        "item.visibility",
        "flag.appealed",
        "flag.reinstated",
        "item.visibility",
    ]


def test_upholding_an_appeal_keeps_the_item_restricted(flagged, mods, bob):
    item, flag = flagged
    mod1, mod2 = mods
    actions.decide(flag.pk, mod1, 1, "confirm")
    actions.appeal(item, item.owner, "please")
    done = actions.decide(flag.pk, mod2, 3, "uphold", "it is a private number")
    assert done.state == "upheld" and not done.is_open
    assert not MediaItem.objects.visible_to(bob).filter(pk=item.pk).exists()


# -- bulk and the queue -------------------------------------------------------------------


def test_bulk_decides_each_flag_and_reports_the_ones_it_could_not(alice, bank_embeddings, mods):
    mod1, mod2 = mods
    one = flagged_item(alice, bank_embeddings, [text_hit(0.7)]).flags.get()
    two = flagged_item(alice, bank_embeddings, [text_hit(0.8)]).flags.get()
    three = flagged_item(alice, bank_embeddings, [text_hit(0.9)]).flags.get()
    actions.decide(two.pk, mod2, 1, "confirm")
    actions.claim(three.pk, mod2, 1)
    out = actions.bulk([one.pk, two.pk, three.pk, 10**9], mod1, "dismiss", "noise")
    assert isinstance(out[0], Flag) and out[0].state == "dismissed"
    assert isinstance(out[1], actions.Conflict) and out[1].state == "confirmed"
    assert isinstance(out[2], actions.Conflict) and "mod2 is reviewing" in out[2].detail
    assert isinstance(out[3], actions.Conflict) and out[3].detail == "no such flag"
    with pytest.raises(actions.Forbidden):
        actions.bulk([one.pk], alice, "dismiss")
    with pytest.raises(ValueError):
        actions.bulk([one.pk], mod1, "maybe")


def test_the_queue_lists_open_flags_oldest_first_or_by_score_with_filters(
    alice, bank_embeddings, mods
):
    mod1, _ = mods
    low = flagged_item(alice, bank_embeddings, [text_hit(0.6)]).flags.get()
    high = flagged_item(alice, bank_embeddings, [concept_hit(score=0.95)]).flags.get()
    done = flagged_item(alice, bank_embeddings, [text_hit(0.99)]).flags.get()
    actions.decide(done.pk, mod1, 1, "dismiss")
    Flag.objects.filter(pk=low.pk).update(created=timezone.now() - dt.timedelta(hours=3))
    assert list(actions.queue(mod1)) == [low, high]
    assert list(actions.queue(mod1, order="score")) == [high, low]
    assert list(actions.queue(mod1, policy="weapons")) == [high]
    assert list(actions.queue(mod1, older_than=dt.timedelta(hours=2))) == [low]
    assert list(actions.queue(mod1, kind="video")) == []
    with pytest.raises(ValueError):
        actions.queue(mod1, order="newest")


# -- effects ------------------------------------------------------------------------------


def test_a_flag_over_the_hide_threshold_hides_the_item_until_reviewed(
    alice, bob, bank_embeddings, mods, fake_services
):
    mod1, _ = mods
    item = flagged_item(alice, bank_embeddings, [text_hit(0.95, hide=True)])
    flag = item.flags.get()
    state = visibility.state_for(item)
    assert state.hidden and state.under_review and not state.removed
    assert not MediaItem.objects.visible_to(bob).filter(pk=item.pk).exists()
    assert MediaItem.objects.visible_to(alice).filter(pk=item.pk).exists()
    row = index_row(item, fake_services.bank)
    assert (row.is_public, row.flagged) == (False, True)  # out of public search
    assert "item.visibility" in actions_of(item)
    OutboxMessage.objects.all().delete()
    actions.decide(flag.pk, mod1, 1, "dismiss", "a date, not a number")
    assert MediaItem.objects.visible_to(bob).filter(pk=item.pk).exists()
    item.refresh_from_db()
    row = index_row(item, fake_services.bank)
    assert (row.is_public, row.flagged) == (True, False)
    assert reindex_asked(item)


def test_confirming_under_a_remove_policy_marks_the_item_removed(
    alice, bob, bank_embeddings, mods, fake_services
):
    mod1, _ = mods
    item = flagged_item(alice, bank_embeddings, [text_hit(0.9, policy="explicit-nudity")])
    flag = item.flags.get()
    assert flag.action == "remove"
    actions.decide(flag.pk, mod1, 1, "confirm")
    state = visibility.state_for(item)
    assert state.removed and not state.restricted and state.owner_only
    assert not MediaItem.objects.visible_to(bob).filter(pk=item.pk).exists()
    assert index_row(item, fake_services.bank).is_public is False


def test_a_pending_flag_without_hide_leaves_the_item_visible_but_flagged(
    flagged, bob, fake_services
):
    item, _ = flagged
    assert MediaItem.objects.visible_to(bob).filter(pk=item.pk).exists()
    row = index_row(item, fake_services.bank)
    assert (row.is_public, row.flagged) == (True, True)


def test_a_private_item_stays_private_whatever_its_flags(alice, bob, bank_embeddings, mods):
    item = flagged_item(alice, bank_embeddings, [text_hit()], visibility="private")
    actions.decide(item.flags.get().pk, mods[0], 1, "dismiss")
    assert not MediaItem.objects.visible_to(bob).filter(pk=item.pk).exists()


def test_an_item_with_audited_flags_can_still_be_deleted(flagged, mods):
    item, flag = flagged
    actions.decide(flag.pk, mods[0], 1, "confirm")
    item_id = item.pk
    before = AuditEvent.objects.filter(item_id=item_id).count()
    commands.delete_media(item)
    assert not Flag.objects.filter(pk=flag.pk).exists()
    kept = AuditEvent.objects.filter(item_id=item_id)
    assert kept.count() == before  # the trail outlives the item, naming it by id
    assert set(kept.values_list("flag_id", flat=True)) == {flag.pk, None}


# -- the audit trail is append-only ---------------------------------------------------------


def test_audit_rows_cannot_be_updated_or_deleted(flagged):
    _, flag = flagged
    event = AuditEvent.objects.get(flag=flag)
    original = event.reason
    event.reason = "rewritten"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).delete()
    # and the database refuses too, whatever code runs
    for sql in (
        "UPDATE moderation_auditevent SET reason = 'rewritten'",
        "DELETE FROM moderation_auditevent",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)
    assert AuditEvent.objects.get(pk=event.pk).reason == original


# -- re-analysis ----------------------------------------------------------------------------


def test_a_re_analysis_updates_flags_and_keeps_decisions(alice, bank_embeddings, mods):
    mod1, _ = mods
    item = flagged_item(alice, bank_embeddings, [text_hit(0.8), concept_hit(score=0.6)])
    text_flag = item.flags.get(policy="personal-data")
    concept_flag = item.flags.get(policy="weapons")
    actions.decide(text_flag.pk, mod1, 1, "confirm", "a phone number")

    # the confirmed flag fires again (stronger), the open one no longer, a new one appears
    reanalyse(item, bank_embeddings, [text_hit(0.9), text_hit(0.7, policy="suggestive")])
    text_flag.refresh_from_db()
    assert (text_flag.state, text_flag.decided_by, text_flag.reason) == (
        "confirmed",
        mod1,
        "a phone number",
    )
    assert text_flag.score == 0.9 and "0.90" in text_flag.rule
    concept_flag.refresh_from_db()
    assert concept_flag.state == "dismissed" and concept_flag.closed_by_system
    assert concept_flag.decided_by is None and "no longer" in concept_flag.reason
    new = item.flags.get(policy="suggestive")
    assert new.state == "pending"
    assert item.flags.count() == 3  # nothing deleted
    closed = AuditEvent.objects.get(flag=concept_flag, action="flag.closed")
    assert closed.actor is None and closed.before["state"] == "pending"

    # it fires again: the system's close is undone, a moderator's decision never is
    reanalyse(item, bank_embeddings, [text_hit(0.9), concept_hit(score=0.65)])
    concept_flag.refresh_from_db()
    assert concept_flag.state == "pending" and concept_flag.score == 0.65
    assert AuditEvent.objects.filter(flag=concept_flag, action="flag.reopened").exists()
    new.refresh_from_db()
    assert new.state == "dismissed" and new.closed_by_system


def test_an_open_flag_updated_by_a_re_analysis_moves_its_version(flagged, mods, bank_embeddings):
    item, flag = flagged
    reanalyse(item, bank_embeddings, [text_hit(0.97, hide=True)])
    flag.refresh_from_db()
    assert (flag.score, flag.hide, flag.version, flag.state) == (0.97, True, 2, "pending")
    with pytest.raises(actions.Conflict):  # the moderator saw the old evidence
        actions.decide(flag.pk, mods[0], 1, "dismiss")
    assert AuditEvent.objects.filter(flag=flag, action="flag.updated").exists()
    reanalyse(item, bank_embeddings, [text_hit(0.97, hide=True)])
    flag.refresh_from_db()
    assert flag.version == 2  # the same hit again changes nothing


# -- a video's windows ----------------------------------------------------------------------


@pytest.fixture
def video(alice, bank_embeddings):
    item = flagged_item(alice, bank_embeddings, [])
    MediaItem.objects.filter(pk=item.pk).update(kind="video", duration_s=40.0)
    item.refresh_from_db()
    shots = [
        Shot.objects.create(
            item=item,
            index=n,
            start_s=10.0 * n,
            end_s=10.0 * (n + 1),
            start_frame=250 * n,
            end_frame=250 * (n + 1),
            analyzed_at=timezone.now(),
        )
        for n in range(4)
    ]
    return item, shots


def test_adjacent_windows_of_a_policy_merge_into_one_time_ranged_flag(video, fake_services):
    item, shots = video
    storing.store_window_hits(shots[0], [text_hit(0.7)])
    storing.store_window_hits(shots[1], [text_hit(0.9, hide=True)])
    storing.store_window_hits(shots[2], [])
    storing.store_window_hits(shots[3], [text_hit(0.6), concept_hit(score=0.8)])
    storing.store_video_flags(item)
    ranges = sorted(
        item.flags.values_list("policy", "start_s", "end_s", "score", "hide", "keyframe__index")
    )
    assert ranges == [
        ("personal-data", 0.0, 20.0, 0.9, True, 1),  # windows 0-1, evidence of the strongest
        ("personal-data", 30.0, 40.0, 0.6, False, 3),
        ("weapons", 30.0, 40.0, 0.8, False, 3),
    ]
    # the index: every window's row follows the item's visibility; "flagged" by overlap
    fake_services.index.upsert = lambda rows: None
    Shot.objects.filter(item=item).update(vector=b"\x00" * 16, appearance=b"")
    rows = index_rows(item, fake_services.bank)
    assert [r.flagged for r in rows[1:]] == [True, True, False, True]
    assert {r.is_public for r in rows} == {False}  # hidden until reviewed

    # the windows are analysed again, the first range now shorter: matched by overlap
    storing.store_window_hits(shots[0], [])
    storing.store_window_hits(shots[3], [concept_hit(score=0.8)])
    first = item.flags.get(policy="personal-data", start_s=0.0)
    storing.store_video_flags(item)
    first.refresh_from_db()
    assert (first.start_s, first.end_s, first.state) == (10.0, 20.0, "pending")
    last = item.flags.get(policy="personal-data", start_s=30.0)
    assert last.state == "dismissed" and last.closed_by_system
    assert WindowHits.objects.filter(shot__item=item).count() == 4


# -- policies -------------------------------------------------------------------------------


def test_the_file_policies_get_records_once_and_an_admin_edit_stands(admin):
    slugs = [p.slug for p in active.policies_active()]
    assert slugs == ["explicit-nudity", "personal-data", "suggestive", "weapons"]
    assert AuditEvent.objects.filter(action="policy.created").count() == 4
    record = PolicyRecord.objects.get(slug="weapons")
    shipped = record.data["flag_at"]
    assert shipped == next(p.flag_at for p in active.file_policies() if p.slug == "weapons")
    record.data = {**record.data, "flag_at": 0.7, "hide_at": 0.95, "action": "remove"}
    active.save_record(record, actor=admin, reason="fewer false alarms")
    active.policies_active()  # a later sync never overwrites it
    weapons = next(p for p in active.policies_active() if p.slug == "weapons")
    assert (weapons.flag_at, weapons.action) == (0.7, "remove")
    assert active.action_of("weapons") == "remove"
    changed = AuditEvent.objects.get(action="policy.changed")
    assert (changed.actor, changed.before["data"]["flag_at"], changed.after["data"]["flag_at"]) == (
        admin,
        shipped,
        0.7,
    )
    record.enabled = False
    active.save_record(record, actor=admin)
    assert "weapons" not in [p.slug for p in active.policies_active()]
    assert AuditEvent.objects.filter(action="policy.changed").count() == 2


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"flag_at": 1.5}, "flag_at"),
        ({"hide_at": 0.1}, "hide_at"),
        ({"signals": [{"kind": "smell", "labels": ["x"]}]}, "kind"),
        ({"signals": [{"kind": "object", "labels": ["unicorn"]}]}, "unicorn"),
        ({"signals": [{"kind": "text", "patterns": ["postcode"]}]}, "postcode"),
        ({"slug": "other"}, "slug"),
    ],
)
def test_an_invalid_policy_edit_is_refused_naming_the_field(db, change, named):
    active.sync_from_file()
    record = PolicyRecord.objects.get(slug="personal-data")
    record.data = {**record.data, **change}
    with pytest.raises(ValidationError) as refused:
        active.save_record(record)
    assert named in str(refused.value)
    assert not AuditEvent.objects.filter(action="policy.changed").exists()


# -- precision ---------------------------------------------------------------------------


def test_precision_counts_moderators_decisions_only(alice, bank_embeddings, mods):
    mod1, mod2 = mods
    scores = [(0.55, "dismiss"), (0.6, "dismiss"), (0.7, "confirm"), (0.75, "confirm")]
    scores += [(0.8, "confirm"), (0.85, "confirm"), (0.9, "confirm"), (0.95, None)]
    for score, decision in scores:
        flag = flagged_item(alice, bank_embeddings, [text_hit(score)]).flags.get()
        if decision:
            actions.decide(flag.pk, mod1, 1, decision)
    # an appeal reinstated counts as dismissed; the system's close counts for nothing
    reinstated = Flag.objects.get(policy="personal-data", score=0.9)
    actions.appeal(reinstated.item, alice, "no")
    actions.decide(reinstated.pk, mod2, reinstated.version + 1, "reinstate")
    closed = flagged_item(alice, bank_embeddings, [text_hit(0.5)])
    reanalyse(closed, bank_embeddings, [])
    (entry,) = [p for p in precision.by_policy() if p["policy"] == "personal-data"]
    assert (entry["confirmed"], entry["dismissed"]) == (4, 3)
    assert entry["precision"] == round(4 / 7, 4)
    assert entry["scores"]["confirmed"][7] == 2 and entry["scores"]["dismissed"][5] == 1
    assert entry["scores"]["open"][9] == 1
    # from 0.7 up: 4 confirmed of 5 decided (0.8 < 0.9); from 0.75 up only 4 are decided (< 5)
    assert entry["suggested_flag_at"] is None
    assert (
        precision.suggested_flag_at(
            [(0.5, False)] + [(s, True) for s in (0.6, 0.7, 0.8, 0.9, 0.95)]
        )
        == 0.6
    )
    others = {p["policy"]: p for p in precision.by_policy()}
    assert others["weapons"]["precision"] is None and others["weapons"]["confirmed"] == 0


def test_verdicts():
    assert precision.verdict(states.CONFIRMED, 1) is True
    assert precision.verdict(states.UPHELD, 1) is True
    assert precision.verdict(states.DISMISSED, 1) is False
    assert precision.verdict(states.DISMISSED, None) is None
    assert precision.verdict(states.PENDING, None) is None


def test_the_video_worker_stores_window_hits_and_the_close_merges_them(video, bank_embeddings):
    from media import video_work
    from media.actions import lifecycle

    from .test_moderation_support import analysed_with

    item, shots = video
    for shot, hits in zip(
        shots, ([concept_hit(score=0.6)], [concept_hit(score=0.8)], [], []), strict=True
    ):
        video_work.store_window_analysis(shot, analysed_with(bank_embeddings, hits))
    assert WindowHits.objects.get(shot=shots[1]).hits[0]["score"] == 0.8
    assert not item.flags.exists()  # merged when the video's analysis closes
    lifecycle.record_video_analysis(item.pk)
    (flag,) = item.flags.all()
    assert (flag.policy, flag.start_s, flag.end_s, flag.score, flag.keyframe) == (
        "weapons",
        0.0,
        20.0,
        0.8,
        shots[1],
    )
    assert reindex_asked(item)


def test_a_bad_policy_file_stops_start_up_naming_the_file_policy_and_field(monkeypatch, tmp_path):
    import dataclasses

    from django.core.exceptions import ImproperlyConfigured
    from glassbox.config import get_settings

    bad = tmp_path / "policies.toml"
    bad.write_text(
        '[[policies]]\nslug = "x"\nname = "x"\ndescription = "x"\nflag_at = 0.5\n'
        'hide_at = 0.9\naction = "remove"\n[[policies.signals]]\nkind = "smell"\nlabels = ["a"]\n'
    )
    cfg = dataclasses.replace(get_settings(), moderation_policies_path=bad)
    monkeypatch.setattr(active, "get_settings", lambda: cfg)
    with pytest.raises(ImproperlyConfigured) as refused:
        active.check_policy_file()  # what the app's ready() runs
    assert str(bad) in str(refused.value) and "'x'" in str(refused.value)
    assert "kind 'smell' is unknown" in str(refused.value)

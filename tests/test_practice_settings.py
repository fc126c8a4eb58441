"""The rules for a practice's own settings, as the command line and the portal apply them."""

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select

from callcenter import practice_settings
from callcenter.accounts import AccountError, create_practice
from callcenter.extensions import db
from callcenter.models import OnCallShift, Practice
from callcenter.practice_settings import (
    SettingsError,
    add_on_call_shift,
    check_max_wait,
    configure_practice,
    get_practice,
    parse_holiday,
    parse_languages,
    parse_menu_options,
    parse_opening_period,
    parse_shift,
    set_business_hours,
)


@pytest.fixture
def practice_id(app):
    with app.app_context():
        practice = create_practice(db.session, "Cedar Clinic", "+13035550147", "America/Denver")
        db.session.commit()
        yield practice.id


def test_a_settings_error_is_an_account_error_and_a_value_error():
    assert issubclass(SettingsError, AccountError) and issubclass(SettingsError, ValueError)


def test_an_unknown_practice_is_named(app):
    with app.app_context(), pytest.raises(SettingsError, match="no practice with id 999"):
        get_practice(db.session, 999)


def test_menu_options_are_trimmed_and_must_be_known():
    assert parse_menu_options(" urgent, refill ,,message") == ["urgent", "refill", "message"]
    assert parse_menu_options(["billing ", "operator"]) == ["billing", "operator"]
    assert parse_menu_options("") == []
    with pytest.raises(SettingsError, match="unknown menu options: bogus, pharmacy"):
        parse_menu_options("urgent,pharmacy,bogus")


@pytest.mark.parametrize("value, expected", [("en", ["en"]), ("en, es", ["en", "es"]), (["es", "en"], ["es", "en"])])
def test_english_is_always_offered_and_spanish_optionally(value, expected):
    assert parse_languages(value) == expected


@pytest.mark.parametrize("value", ["", "es", "en,fr", " , "])
def test_other_languages_are_refused(value):
    with pytest.raises(SettingsError, match="languages must be en or en,es"):
        parse_languages(value)


def test_the_maximum_wait_is_between_one_minute_and_one_hour():
    assert check_max_wait(60) == 60 and check_max_wait(3600) == 3600
    for seconds in (59, 3601, 0):
        with pytest.raises(SettingsError, match="between 60 and 3600 seconds"):
            check_max_wait(seconds)


def test_configuring_changes_only_what_is_given_and_commits_nothing(app, practice_id):
    with app.app_context():
        configure_practice(db.session, practice_id, greeting="  Welcome to Cedar.  ", options="urgent,refill",
                           languages="en", max_wait=120, instructions=" Dr. Lee is on call. ")
        db.session.commit()
        practice = configure_practice(db.session, practice_id, max_wait=300)
        assert practice.greeting == "Welcome to Cedar."
        assert practice.menu_options == ["urgent", "refill"]
        assert practice.languages == ["en"]
        assert practice.instructions == "Dr. Lee is on call."
        assert practice.max_wait_seconds == 300
        db.session.rollback()  # nothing was committed by the function itself
        assert db.session.get(Practice, practice_id).max_wait_seconds == 120


def test_a_blank_greeting_or_instructions_clears_them(app, practice_id):
    with app.app_context():
        configure_practice(db.session, practice_id, greeting="Hello", instructions="Notes")
        practice = configure_practice(db.session, practice_id, greeting="   ", instructions="")
        assert practice.greeting is None and practice.instructions is None


def test_nothing_changes_when_any_setting_is_refused(app, practice_id):
    with app.app_context():
        with pytest.raises(SettingsError, match="unknown menu options: bogus"):
            configure_practice(db.session, practice_id, greeting="Hello", options="bogus", languages="fr")
        practice = db.session.get(Practice, practice_id)
        assert practice.greeting is None and practice.menu_options is None


def test_menu_options_are_checked_before_languages(app, practice_id):
    with app.app_context(), pytest.raises(SettingsError, match="unknown menu options"):
        configure_practice(db.session, practice_id, options="bogus", languages="fr")


def test_an_opening_period_covers_each_day_of_its_range():
    assert parse_opening_period("mon-fri=08:00-17:00") == [(d, time(8), time(17)) for d in range(5)]
    assert parse_opening_period("SAT=09:00-12:30") == [(5, time(9), time(12, 30))]


@pytest.mark.parametrize("period, why", [
    ("mon-fri=17:00-08:00", "closing time must be after opening time"),
    ("mon-fri=08:00-08:00", "closing time must be after opening time"),
    ("funday=08:00-17:00", "'funday' is not in list"),
    ("mon=8am-5pm", "Invalid isoformat string"),
    ("mon=08:00", "not enough values to unpack"),
    ("mon-fri", ""),
])
def test_an_unreadable_opening_period_is_refused(period, why):
    with pytest.raises(SettingsError, match="could not read the hours: " + why):
        parse_opening_period(period)


def test_a_holiday_is_a_date():
    assert parse_holiday("2026-12-25") == date(2026, 12, 25)
    with pytest.raises(SettingsError, match="could not read the hours: Invalid isoformat string"):
        parse_holiday("Christmas")


def test_business_hours_are_replaced_and_holidays_added(app, practice_id):
    with app.app_context():
        set_business_hours(db.session, practice_id, ["mon-fri=08:00-17:00"], ["2026-12-25"])
        db.session.commit()
        practice = set_business_hours(db.session, practice_id, ["sat=09:00-12:00", "sun=10:00-11:00"],
                                      ["2027-01-01"])
        db.session.commit()
        assert sorted((h.weekday, h.opens, h.closes) for h in practice.hours) == [
            (5, time(9), time(12)), (6, time(10), time(11))]
        assert sorted(h.day for h in practice.holidays) == [date(2026, 12, 25), date(2027, 1, 1)]


def test_unreadable_hours_leave_the_old_ones(app, practice_id):
    with app.app_context():
        set_business_hours(db.session, practice_id, ["mon=08:00-17:00"])
        db.session.commit()
        with pytest.raises(SettingsError, match="could not read the hours"):
            set_business_hours(db.session, practice_id, ["tue=08:00-17:00"], ["not-a-date"])
        assert [h.weekday for h in db.session.get(Practice, practice_id).hours] == [0]


def test_a_shift_needs_offsets_and_must_end_after_it_starts():
    start, end = parse_shift("2026-12-01T17:00-05:00", "2026-12-02T08:00-05:00")
    assert start.utcoffset() == timedelta(hours=-5) and end - start == timedelta(hours=15)
    with pytest.raises(SettingsError, match="^give times with their UTC offset$"):
        parse_shift("2026-12-01T17:00", "2026-12-02T08:00-05:00")
    with pytest.raises(SettingsError, match="^the shift must end after it starts$"):
        parse_shift("2026-12-01T17:00-05:00", "2026-12-01T17:00-05:00")
    with pytest.raises(SettingsError, match="Invalid isoformat string"):
        parse_shift("tonight", "2026-12-01T17:00-05:00")


def test_a_shift_accepts_datetimes_too():
    start = datetime(2026, 12, 1, 22, tzinfo=UTC)
    assert parse_shift(start, start + timedelta(hours=1)) == (start, start + timedelta(hours=1))
    with pytest.raises(SettingsError, match="give times with their UTC offset"):
        parse_shift(start.replace(tzinfo=None), start + timedelta(hours=1))


def test_an_on_call_shift_is_added_with_a_normalised_number(app, practice_id):
    with app.app_context():
        shift = add_on_call_shift(db.session, practice_id, "Dr. Lee", "(303) 555-0199",
                                  "2026-12-01T17:00-05:00", "2026-12-02T08:00-05:00")
        assert shift.id is not None  # flushed, not committed
        db.session.commit()
        stored = db.session.get(OnCallShift, shift.id)
        assert stored.number == "+13035550199" and stored.clinician_name == "Dr. Lee"
        assert stored.starts_at == datetime(2026, 12, 1, 17, tzinfo=timezone(timedelta(hours=-5)))


def test_an_on_call_shift_with_a_bad_number_or_practice_is_refused(app, practice_id):
    with app.app_context():
        with pytest.raises(SettingsError, match="not a phone number: 'pager'"):
            add_on_call_shift(db.session, practice_id, "Dr. Lee", "pager",
                              "2026-12-01T17:00-05:00", "2026-12-02T08:00-05:00")
        with pytest.raises(SettingsError, match="no practice with id 999"):
            add_on_call_shift(db.session, 999, "Dr. Lee", "+13035550199",
                              "2026-12-01T17:00-05:00", "2026-12-02T08:00-05:00")
        assert db.session.scalar(select(func.count()).select_from(OnCallShift)) == 0


def test_a_practice_may_hold_fewer_callers_than_the_service_and_zero_lifts_its_limit(app, practice_id):
    with app.app_context():
        practice = practice_settings.configure_practice(db.session, practice_id, queue_capacity=25)
        assert practice.queue_capacity == 25
        practice = practice_settings.configure_practice(db.session, practice_id, queue_capacity=0)
        assert practice.queue_capacity is None
        with pytest.raises(practice_settings.SettingsError, match="between 1 and 100,000"):
            practice_settings.configure_practice(db.session, practice_id, queue_capacity=-3)
        db.session.rollback()

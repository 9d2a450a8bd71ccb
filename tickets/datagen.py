"""A city's year of tickets, generated inside PostgreSQL (INSERT ... SELECT FROM generate_series).

One statement makes a batch of ~100k tickets, a second one their events; nothing goes
through the ORM row by row. The shape follows a real hotline:

- ids (and numbers) rise with `reported_at`, spread evenly over the last 365 days;
- a ticket is likelier to be open the younger it is (0.9·e^(-age/60 d) + 6 %), so about
  a fifth of all tickets are open, most of them recent, with an old backlog that is
  past its deadline; ~3 % rejected, ~2 % merged, the rest (~75 %) closed or archived
  (archived 30 days after closing). With `open_tickets` the same curve is scaled so
  that exactly that many are open (chosen by systematic sampling along the curve, not
  at random), and of the others 3 % are rejected, 2 % merged, the rest closed or
  archived;
- categories are skewed (some are far more common than others); 70 % of the tickets
  that reached a unit went where the category routes them (functional categories to
  their bureau or utility, territorial ones to a district or street), 30 % anywhere
  among the 121 handling units; no unit only for reported/accepted/rejected/merged;
- deadlines (*_due_at, *_warn_at) follow the category's policy (working days taken as
  1.4 calendar days) from the moment each stage started; due_at/warn_at hold the
  nearest running deadline only in the states whose clocks run, as the model keeps them;
  three quarters of the old backlog in progress had its resolve deadline extended (延期),
  so about 7 % of all tickets (a third of the open ones) are past their deadline;
- the deadline sweep has kept up, as it does every 30 s in production: every mark of a
  running stage clock that has passed (yellow at 80 %, red at the deadline, and the
  resolve stage's later marks, urging and the overdue listing, as tickets.sla computes
  them) has its DeadlineAlert, a red card has raised `escalation_level`, and
  `next_check_at` holds the next mark still to come (NULL when none is), and a ticket
  on the overdue report has `overdue_listed_due` as the sweep sets it: right after
  generation no ticket is due, and marks then come due as time passes, as they would;
- each history has one line per transition (~6 a ticket) and replays to the ticket's
  state: report, accept and dispatch (or dispatch straight from the report), claim,
  resolve, verify, rate (or the feedback window's expiry), archive; reject or merge.

The data are reproducible: the same `seed` gives the same tickets (setseed per batch). Which shape was generated (how many
tickets, how many open were asked for) is kept in the table datagen_dataset.
"""

import datetime as dt
import math
import random
import time

from django.db import DatabaseError, connection, transaction

BATCH = 100_000
# The trigger refusing new events on archived tickets (migration tickets.0014).
ARCHIVE_GUARD = "ticketevent_archived_refused"
ARCHIVE_AFTER_DAYS = 30
RECENT_DAYS = 20  # open tickets older than this are the backlog
EXTENDED = 0.75  # share of the backlog in progress whose resolve deadline was extended

PHRASES = [
    "小区门口井盖缺失，存在安全隐患",
    "楼下餐馆油烟扰民，晚上无法开窗",
    "路灯不亮已经一周了",
    "停水两天了没有任何通知",
    "自来水发黄有异味",
    "施工噪音深夜十二点还在继续",
    "人行道被占道经营的摊贩堵住",
    "垃圾桶满了没人清运，气味很大",
    "小区有人违章搭建阳光房",
    "道路破损坑洼，电动车容易摔倒",
    "公交站台遮雨棚损坏",
    "暴雨后路口积水严重",
    "燃气表读数异常，费用偏高",
    "停电没有提前发布通知",
    "物业不作为，电梯经常故障",
    "共享单车乱停放堵塞盲道",
    "广场舞音响声音太大",
    "河道有垃圾漂浮，气味难闻",
    "树枝压到电线，担心断线",
    "小区供暖温度不达标",
    "出租车拒载，司机态度恶劣",
    "学校周边交通拥堵，需要交警疏导",
    "工地渣土车撒漏污染路面",
    "下水道堵塞污水外溢",
    "菜市场周边环境脏乱差",
    "红绿灯时间设置不合理",
    "楼道堆放杂物，消防通道堵塞",
    "流浪狗伤人，请有关部门处理",
    "社区卫生服务中心排队时间太长",
    "建议增设公交线路方便出行",
]
PREFIXES = ["", "市民反映：", "来电称", "网友留言："]
ROADS = [
    "中南路", "中山大道", "解放大道", "建设大道", "武珞路", "民主路", "友谊大道", "和平大道",
    "珞喻路", "鹦鹉大道", "汉阳大道", "京汉大道", "发展大道", "青年路", "沿江大道", "光谷大道",
    "雄楚大道", "长江二路", "徐东大街", "积玉桥街",
]
SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "胡", "朱", "高", "林"]

# Each state's history, one line per transition that reached it, so that every
# history replays (each line starts where the one before it ended, the last ends in
# the ticket's state): (state, order, kind, from, to, timestamp column, whether the
# line names the unit, whether the citizen sees it). Work that went on to a unit was
# mostly dispatched straight from the report (直派); what still waits at the centre
# or for a unit was accepted first.
_R, _A, _D, _C, _S, _V, _X, _Z = (
    "reported_at", "accepted_at", "dispatched_at", "claimed_at", "resolved_at", "verified_at",
    "closed_at", "archived_at",
)
_REPORT = ("report", "", "reported", _R)
_ACCEPT = ("accept", "reported", "accepted", _A)
_DISPATCH = ("dispatch", "reported", "dispatched", _D)
_CLAIM = ("claim", "dispatched", "in_progress", _C)
_RESOLVE = ("resolve", "in_progress", "resolved", _S)
_VERIFY = ("verify", "resolved", "awaiting_feedback", _V)
# A closed ticket without a rating was closed by the feedback window, not rated.
_RATE = ("rate", "awaiting_feedback", "closed", _X)
_WORKED = [_REPORT, _DISPATCH, _CLAIM, _RESOLVE, _VERIFY]
PATHS = {
    "reported": [_REPORT],
    "accepted": [_REPORT, _ACCEPT],
    "dispatched": [_REPORT, _ACCEPT, ("dispatch", "accepted", "dispatched", _D)],
    "in_progress": _WORKED[:3],
    "resolved": _WORKED[:4],
    "awaiting_feedback": _WORKED,
    "closed": [*_WORKED, _RATE],
    "archived": [*_WORKED, _RATE, ("archive", "closed", "archived", _Z)],
    "rejected": [_REPORT, ("reject", "reported", "rejected", _X)],
    "merged": [_REPORT, ("merge", "reported", "merged", _X)],
}
_UNIT_KINDS = {"dispatch", "claim", "resolve", "verify", "rate"}
_PRIVATE_KINDS = {"resolve"}
# States whose history accepts before dispatching; the others' accepted_at is the
# moment of dispatch, as the model sets it.
ACCEPTED_FIRST = tuple(state for state, steps in PATHS.items() if _ACCEPT in steps)

REACHED = {  # the timestamp columns each state has reached
    _D: ("dispatched", "in_progress", "resolved", "awaiting_feedback", "closed", "archived"),
    _C: ("in_progress", "resolved", "awaiting_feedback", "closed", "archived"),
    _S: ("resolved", "awaiting_feedback", "closed", "archived"),
    _V: ("awaiting_feedback", "closed", "archived"),
}


def _in(states) -> str:
    return "st IN (" + ", ".join(f"'{s}'" for s in states) + ")"


def _interval(amount: int, unit: str) -> dt.timedelta:
    # Working days are taken as 1.4 calendar days: deadlines only need to be plausible.
    return dt.timedelta(hours=amount) if unit == "hours" else dt.timedelta(days=amount * 1.4)


TICKETS_SQL = f"""
INSERT INTO tickets_ticket (
    id, number, state, channel, category_id, unit_id, description, address, lat, lng,
    reporter_name, reporter_phone, access_code_hash,
    reported_at, accepted_at, dispatched_at, claimed_at, resolved_at, verified_at, closed_at,
    archived_at, accept_due_at, accept_warn_at, claim_due_at, claim_warn_at, resolve_due_at,
    resolve_warn_at,
    feedback_due_at, feedback_warn_at, due_at, warn_at,
    is_final_dispatch, reopen_count, support_count, return_count, merged_into_id, reply, rating,
    updated_at, next_check_at, escalation_level__EXTRA_COLUMNS__
)
WITH g AS MATERIALIZED (
    SELECT i, 365.0 * (1 - (i - 0.5) / %(n)s) AS age,
           random() AS r_state, random() AS r_sub, random() AS r_cat, random() AS r_route,
           random() AS r_unit, random() AS r_chan, random() AS r_text, random() AS r_addr,
           random() AS r_who, random() AS r_misc, random() AS r_jit, random() AS r_no,
           random() AS r_ext,
           random() AS d1, random() AS d2, random() AS d3, random() AS d4, random() AS d5,
           random() AS d6, random() AS d7
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
), s AS MATERIALIZED (
    SELECT g.*, c.id AS category_id, c.default_unit_id,
           c.accept_iv, c.claim_iv, c.resolve_iv, c.feedback_iv,
           %(now)s::timestamptz - make_interval(secs => g.age * 86400 + g.r_jit * 900)
               AS reported_at,
           0.9 * exp(-g.age / 60) + 0.06 AS p_open,
           -- typical stage durations in seconds: accept, dispatch, claim, resolve, verify, close
           60 + d1 * 3540 AS s1, 300 + d2 * 6900 AS s2, 600 + d3 * 13800 AS s3,
           43200 + d4 * 7 * 86400 AS s4, 3600 + d5 * 82800 AS s5, 43200 + d6 * 3 * 86400 AS s6
    FROM g JOIN datagen_category c ON c.idx = 1 + floor(%(ncat)s * power(g.r_cat, 1.6))::int
), t AS MATERIALIZED (
    SELECT s.*,
           -- squeeze the path into 90 %% of the ticket's age so nothing lies in the future
           least(1.0, 0.9 * age * 86400 / (s1 + s2 + s3 + s4 + s5 + s6)) AS k
    FROM s
), u AS MATERIALIZED (
    SELECT t.*,
           reported_at + make_interval(secs => k * s1) AS c1,
           reported_at + make_interval(secs => k * (s1 + s2)) AS c2,
           reported_at + make_interval(secs => k * (s1 + s2 + s3)) AS c3,
           reported_at + make_interval(secs => k * (s1 + s2 + s3 + s4)) AS c4,
           reported_at + make_interval(secs => k * (s1 + s2 + s3 + s4 + s5)) AS c5,
           reported_at + make_interval(secs => k * (s1 + s2 + s3 + s4 + s5 + s6)) AS c6,
           CASE
             WHEN __OPEN__ THEN
               CASE WHEN age < 1 THEN
                 CASE WHEN r_sub < .25 THEN 'reported' WHEN r_sub < .40 THEN 'accepted'
                      WHEN r_sub < .75 THEN 'dispatched' ELSE 'in_progress' END
               WHEN age < {RECENT_DAYS} THEN
                 CASE WHEN r_sub < .02 THEN 'reported' WHEN r_sub < .05 THEN 'accepted'
                      WHEN r_sub < .25 THEN 'dispatched' WHEN r_sub < .75 THEN 'in_progress'
                      WHEN r_sub < .85 THEN 'resolved' ELSE 'awaiting_feedback' END
               ELSE  -- the backlog: long cases, replies awaiting checks, a few stuck
                 CASE WHEN r_sub < .005 THEN 'reported' WHEN r_sub < .01 THEN 'accepted'
                      WHEN r_sub < .05 THEN 'dispatched' WHEN r_sub < .85 THEN 'in_progress'
                      ELSE 'resolved' END
               END
             WHEN r_state < __P0__ + .03 OR i = 1 AND r_state < __P0__ + .05 THEN 'rejected'
             WHEN r_state < __P0__ + .05 THEN 'merged'
             WHEN reported_at + make_interval(secs => k * (s1 + s2 + s3 + s4 + s5 + s6))
                  > %(now)s::timestamptz - interval '{ARCHIVE_AFTER_DAYS} days' THEN 'closed'
             ELSE 'archived'
           END AS st
    FROM t
), v AS (
    SELECT u.*,
           CASE WHEN {_in(ACCEPTED_FIRST)} THEN c1 WHEN {_in(REACHED[_D])} THEN c2
           END AS accepted_at,
           CASE WHEN {_in(REACHED[_D])} THEN c2 END AS dispatched_at,
           CASE WHEN {_in(REACHED[_C])} THEN c3 END AS claimed_at,
           CASE WHEN {_in(REACHED[_S])} THEN c4 END AS resolved_at,
           CASE WHEN {_in(REACHED[_V])} THEN c5 END AS verified_at,
           CASE WHEN {_in(("closed", "archived"))} THEN c6
                WHEN {_in(("rejected", "merged"))} THEN c1 END AS closed_at,
           CASE WHEN st = 'archived' THEN
                least(c6 + interval '{ARCHIVE_AFTER_DAYS} days'
                         + make_interval(secs => d7 * 172800), %(now)s::timestamptz)
           END AS archived_at,
           CASE WHEN r_chan < .45 THEN 'phone' WHEN r_chan < .65 THEN 'web'
                WHEN r_chan < .75 THEN 'sms' WHEN r_chan < .80 THEN 'weibo'
                WHEN r_chan < .85 THEN 'open311' ELSE 'staff' END AS channel
    FROM u
), w AS (
    SELECT v.*,
           reported_at + accept_iv AS accept_due, reported_at + accept_iv * 0.8 AS accept_warn,
           dispatched_at + claim_iv AS claim_due, dispatched_at + claim_iv * 0.8 AS claim_warn,
           CASE WHEN ext THEN extended_to ELSE dispatched_at + resolve_iv END AS resolve_due,
           CASE WHEN ext THEN dispatched_at + (extended_to - dispatched_at) * 0.8
                ELSE dispatched_at + resolve_iv * 0.8 END AS resolve_warn,
           verified_at + feedback_iv AS feedback_due,
           verified_at + feedback_iv * 0.8 AS feedback_warn
    FROM (SELECT v.*,
                 st = 'in_progress' AND age >= {RECENT_DAYS} AND r_ext < {EXTENDED}
                     AND dispatched_at + resolve_iv < %(now)s::timestamptz AS ext,
                 -- an approved extension: 1-60 days from now
                 %(now)s::timestamptz + make_interval(secs => (1 + r_ext / {EXTENDED} * 59) * 86400)
                     AS extended_to
          FROM v) v
)
SELECT
    i,
    to_char(reported_at AT TIME ZONE %(tz)s, 'YYMMDD') || lpad(i::text, 7, '0'),
    st, channel, category_id,
    CASE WHEN {_in(("reported", "accepted", "rejected", "merged"))} THEN NULL
         WHEN r_route < .7 THEN coalesce(
             default_unit_id,
             (%(territorial)s::bigint[])[1 + floor(r_unit * %(nterritorial)s)::int])
         ELSE (%(units)s::bigint[])[1 + floor(r_unit * %(nunits)s)::int] END,
    (%(prefixes)s::text[])[(1 + i %% {len(PREFIXES)})::int]
        || (%(phrases)s::text[])[1 + floor(r_text * {len(PHRASES)})::int]
        || '，请尽快处理。（' || i || '）',
    (%(districts)s::text[])[1 + floor(r_addr * %(ndistricts)s)::int]
        || (%(roads)s::text[])[(1 + i %% {len(ROADS)})::int]
        || (1 + floor(r_no * 388))::int || '号',
    CASE WHEN channel <> 'phone' THEN round((30.45 + r_addr * 0.30)::numeric, 6) END,
    CASE WHEN channel <> 'phone' THEN round((114.10 + r_misc * 0.40)::numeric, 6) END,
    CASE WHEN channel IN ('phone', 'sms') OR channel = 'web' AND r_who < .5 THEN
        (%(surnames)s::text[])[1 + floor(r_who * {len(SURNAMES)})::int]
            || CASE WHEN i %% 2 = 0 THEN '先生' ELSE '女士' END
        ELSE '' END,
    CASE WHEN channel IN ('phone', 'sms') OR channel = 'web' AND r_who < .5 THEN
        '1' || (30 + floor(r_who * 60))::int || lpad(((i * 7919) %% 100000000)::text, 8, '0')
        ELSE '' END,
    'h1$generated$' || i,
    reported_at, accepted_at, dispatched_at, claimed_at, resolved_at, verified_at, closed_at,
    archived_at,
    accept_due, accept_warn, claim_due, claim_warn, resolve_due, resolve_warn,
    feedback_due, feedback_warn,
    CASE WHEN st IN ('reported', 'accepted') THEN accept_due
         WHEN st = 'dispatched' THEN least(claim_due, resolve_due)
         WHEN st = 'in_progress' THEN resolve_due
         WHEN st = 'awaiting_feedback' THEN feedback_due END,
    CASE WHEN st IN ('reported', 'accepted') THEN accept_warn
         WHEN st = 'dispatched' THEN least(claim_warn, resolve_warn)
         WHEN st = 'in_progress' THEN resolve_warn
         WHEN st = 'awaiting_feedback' THEN feedback_warn END,
    dispatched_at IS NOT NULL AND r_misc < .05,
    CASE WHEN dispatched_at IS NOT NULL AND r_misc > .98 THEN 1 ELSE 0 END,
    floor(power(r_misc, 12) * 30)::int,
    0,
    CASE WHEN st = 'merged' THEN i - 1 - floor(r_misc * least(i - 2, 50))::bigint END,
    CASE WHEN resolved_at IS NOT NULL THEN '经核实，已安排处理完毕，感谢您的反映。' ELSE '' END,
    CASE WHEN {_in(("closed", "archived"))} THEN
        CASE WHEN r_misc < .70 THEN 'satisfied' WHEN r_misc < .88 THEN 'basically_satisfied'
             ELSE '' END
        ELSE '' END,
    coalesce(archived_at, closed_at, verified_at, resolved_at, claimed_at, dispatched_at,
             accepted_at, reported_at),
    mk.next_at, mk.reds__EXTRA_VALUES__
FROM w CROSS JOIN LATERAL (
    SELECT min(m.at) FILTER (WHERE m.at > %(now)s::timestamptz) AS next_at,
           count(*) FILTER (WHERE m.level = 'red' AND m.at <= %(now)s::timestamptz) AS reds
    FROM (__MARKS__) m
) mk
"""


def _path_rows():
    for state, steps in PATHS.items():
        for order, (kind, from_state, to_state, column) in enumerate(steps, 1):
            yield (state, order, kind, from_state, to_state, column,
                   kind in _UNIT_KINDS, kind not in _PRIVATE_KINDS)


_AT = "CASE p.ts " + " ".join(
    f"WHEN '{c}' THEN t.{c}" for c in (_R, _A, _D, _C, _S, _V, _X, _Z)
) + " END"

EVENTS_SQL = f"""
INSERT INTO tickets_ticketevent
    (ticket_id, kind, from_state, to_state, actor_id, unit_id, note, payload, is_public, at)
SELECT t.id, CASE WHEN p.kind = 'rate' AND t.rating = '' THEN 'expire_feedback' ELSE p.kind END,
       p.from_state, p.to_state, NULL, CASE WHEN p.with_unit THEN t.unit_id END,
       '', '{{}}'::jsonb, p.is_public, {_AT}
FROM tickets_ticket t JOIN datagen_path p ON p.state = t.state
WHERE t.id BETWEEN %(lo)s AND %(hi)s
ORDER BY t.id, p.ord
"""


# The deadline sweep's steady state: the marks of every running stage clock, as rows
# (stage, level, due, warn, at). `__STATE__` and `__DUE__`/`__WARN__` name the columns.
# The marks beyond yellow and red (the resolve stage's urging and overdue listing)
# come from datagen_mark_day, computed by tickets.sla for each local day of a deadline.
MARKS_SQL = """
SELECT s.stage, m.level, s.due, s.warn, m.at
FROM (VALUES __STAGES__) AS s(stage, due, warn, running)
CROSS JOIN LATERAL (
    SELECT 'yellow'::text AS level, s.warn AS at
    UNION ALL SELECT 'red', s.due
    UNION ALL SELECT d.level, d.at FROM datagen_mark_day d
              WHERE d.stage = s.stage AND d.day = (s.due AT TIME ZONE %(tz)s)::date
) AS m
WHERE s.running AND s.due IS NOT NULL AND __ANY_RUNNING__
"""

# The cards the sweep raised for the marks that have passed, each within its 30 s round.
ALERTS_SQL = """
INSERT INTO tickets_deadlinealert (ticket_id, stage, level, due_at, warn_at, raised_at)
SELECT t.id, m.stage, m.level, m.due, m.warn,
       least(m.at + make_interval(secs => 1 + (t.id * 7919 + length(m.level)) %% 29),
             %(now)s::timestamptz)
FROM tickets_ticket t CROSS JOIN LATERAL (__MARKS__) m
WHERE t.id BETWEEN %(lo)s AND %(hi)s AND m.at <= %(now)s::timestamptz
"""

# The listing those cards put on the overdue report, as the sweep records it on the
# ticket (tickets.sla; the same rule as migration 0009's backfill).
LISTED_SQL = """
UPDATE tickets_ticket AS t SET overdue_listed_due = a.due_at FROM tickets_deadlinealert AS a
WHERE t.id BETWEEN %(lo)s AND %(hi)s AND a.ticket_id = t.id AND a.stage = 'resolve'
  AND a.level = 'overdue' AND a.due_at = t.resolve_due_at AND t.state = ANY(%(listable)s)
"""


def _stage_states() -> dict[str, list[str]]:
    """The states in which each stage's clock runs (from the model)."""
    from tickets.models import RUNNING_STAGES

    stages: dict[str, list[str]] = {}
    for state, names in RUNNING_STAGES.items():
        for stage in names:
            stages.setdefault(stage, []).append(str(state))
    return stages


def _marks_sql(state: str, column) -> str:
    """MARKS_SQL for rows whose state is `state`; column(stage, "due"|"warn") names a column."""
    values = ", ".join(
        f"('{stage}', {column(stage, 'due')}, {column(stage, 'warn')}, "
        f"{state} IN ({', '.join(repr(s) for s in states)}))"
        for stage, states in _stage_states().items()
    )
    running = sorted({s for states in _stage_states().values() for s in states})
    # The same test for the whole row: a closed ticket skips the marks at once.
    any_running = f"{state} IN ({', '.join(repr(s) for s in running)})"
    return MARKS_SQL.replace("__STAGES__", values).replace("__ANY_RUNNING__", any_running)


def _mark_day_rows(now: dt.datetime, first: dt.date, last: dt.date, out) -> list[tuple]:
    """(day, stage, level, at) of the marks beyond yellow and red, per local day of a deadline.

    They are taken from tickets.sla.stage_marks on an unsaved ticket whose stage is due
    that day; a stage whose extra marks depend on more than the deadline's day is left out
    (with a note): the data then lack those marks, nothing else.
    """
    try:
        from tickets.sla import stage_marks
    except ImportError:
        return []
    from django.conf import settings
    from zoneinfo import ZoneInfo

    from tickets.models import AlertLevel, Ticket

    zone = ZoneInfo(settings.TIME_ZONE)
    basic = {str(AlertLevel.YELLOW), str(AlertLevel.RED)}
    rows = []
    for stage, states in _stage_states().items():
        mine, consistent = [], True
        day = first
        while day <= last and consistent:
            seen = []
            for clock in (dt.time(0, 0, 1), dt.time(12, 0), dt.time(23, 59, 59)):
                due = dt.datetime.combine(day, clock, tzinfo=zone)
                clocks = {f"{stage}_due_at": due, f"{stage}_warn_at": due - dt.timedelta(hours=1)}
                ticket = Ticket(state=states[0], **clocks)
                seen.append(sorted((str(level), at) for s, level, at in stage_marks(ticket)
                                   if s == stage and str(level) not in basic))
            consistent = seen[0] == seen[1] == seen[2]
            mine += [(day, stage, level, at) for level, at in seen[0]]
            day += dt.timedelta(days=1)
        if consistent:
            rows += mine
        else:
            out(f"  note: the {stage} stage's later marks depend on more than the deadline's "
                f"day; the data leave them out")
    return rows


def _extra_columns(cursor, sql: str) -> list[tuple[str, str]]:
    """(column, SQL zero) for NOT NULL columns without a default that `sql` does not fill."""
    head = sql.split("INSERT INTO tickets_ticket (", 1)[1].split(")", 1)[0]
    filled = {c.strip() for c in head.replace("__EXTRA_COLUMNS__", "").split(",")}
    cursor.execute(
        """
        SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'tickets_ticket'
          AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'
        ORDER BY ordinal_position
        """
    )
    zeros = {"smallint": "0", "integer": "0", "bigint": "0", "numeric": "0", "boolean": "false",
             "text": "''", "character varying": "''", "jsonb": "'{}'::jsonb"}
    extra = []
    for column, data_type in cursor.fetchall():
        if column in filled:
            continue
        if data_type not in zeros:
            raise RuntimeError(f"tickets_ticket.{column} ({data_type}) is NOT NULL without a "
                               f"default: teach tickets/datagen.py what to put there")
        extra.append((column, zeros[data_type]))
    return extra


def _open_curve(n: int, open_tickets: int) -> dict:
    """Parameters of the open-ticket curve scaled to `open_tickets` open out of `n`.

    S(i) = sum over j <= i of p(j), with p(j) = 0.9·e^(-age_j/60) + 0.06 the unscaled
    chance that ticket j is open; ticket i is open when floor(f·S(i) + ½) steps up at i,
    which makes exactly round(f·S(n)) = open_tickets open.
    """
    a = 365 / (60 * n)
    c1 = 0.9 * math.exp(-365 / 60) * math.exp(a / 2) / math.expm1(a)
    total = c1 * math.expm1(a * n) + 0.06 * n
    f = open_tickets / total
    if f * 0.96 > 1:
        raise ValueError(f"at most {int(total / 0.96):,} of {n:,} tickets can be open on the curve")
    return {"curve_a": a, "curve_c1": c1, "curve_f": f}


_OPEN_BY_CURVE = (
    "floor(%(curve_f)s * (%(curve_c1)s * (exp(%(curve_a)s * i) - 1) + 0.06::float8 * i) + 0.5)"
    " > floor(%(curve_f)s * (%(curve_c1)s * (exp(%(curve_a)s * (i - 1)) - 1)"
    " + 0.06::float8 * (i - 1)) + 0.5)"
)


def missing_city() -> list[str]:
    """Return the codes of the demo city's units and categories the database lacks.

    The generated data, and the benchmarks that read them, route tickets through the
    demo city's 121 units and its categories (seed_demo loads them).
    """
    from departments import demo_data
    from departments.models import Category, Unit

    units = {demo_data.CENTRE[0]}
    for code, _name, streets in demo_data.DISTRICTS:
        units |= {code, *(street for street, _ in streets)}
    units |= {code for code, _name in (*demo_data.BUREAUS, *demo_data.UTILITIES)}
    categories = {leaf[0] for _code, _name, leaves in demo_data.CATEGORIES for leaf in leaves}
    units -= set(Unit.objects.filter(code__in=units, is_active=True).values_list("code", flat=True))
    categories -= set(
        Category.objects.filter(code__in=categories, is_active=True).values_list("code", flat=True)
    )
    return sorted(units | categories)


def dataset() -> dict | None:
    """What the last complete generation made: tickets, open tickets asked for, when."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('datagen_dataset') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT tickets, open_tickets, generated_at FROM datagen_dataset")
        row = cursor.fetchone()
    return dict(zip(("tickets", "open_tickets", "generated_at"), row)) if row else None


def ticket_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tickets_ticket")
        return cursor.fetchone()[0]


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the indexes not backing a constraint (pk, unique)."""
    cursor.execute(
        """
        SELECT c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        ORDER BY c.relname
        """,
        [table],
    )
    return cursor.fetchall()


def _restore_saved_indexes(cursor) -> None:
    """Recreate indexes a previous, interrupted generation dropped."""
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS datagen_saved_index "
        "(name text PRIMARY KEY, definition text NOT NULL)"
    )
    cursor.execute("SELECT name, definition FROM datagen_saved_index ORDER BY name")
    for _name, definition in cursor.fetchall():
        cursor.execute(definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
    cursor.execute("DELETE FROM datagen_saved_index")


def _lookup_tables(cursor, seed: int) -> dict:
    from departments.models import Category, Unit, UnitKind

    rng = random.Random(20261124 + seed)
    leaves = list(
        Category.objects.filter(parent__isnull=False, is_active=True, children__isnull=True)
        .order_by("code")
    )
    rng.shuffle(leaves)  # the skew favours the first categories; do not favour one group
    cursor.execute("DROP TABLE IF EXISTS datagen_category")
    cursor.execute(
        "CREATE TEMP TABLE datagen_category (idx int PRIMARY KEY, id bigint, default_unit_id bigint, "
        "accept_iv interval, claim_iv interval, resolve_iv interval, feedback_iv interval)"
    )
    for idx, c in enumerate(leaves, 1):
        cursor.execute(
            "INSERT INTO datagen_category VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [idx, c.id, c.default_unit_id if c.routing == "functional" else None,
             *(_interval(*c.deadline(s)) for s in ("accept", "claim", "resolve", "feedback"))],
        )
    cursor.execute("DROP TABLE IF EXISTS datagen_path")
    cursor.execute(
        "CREATE TEMP TABLE datagen_path (state text, ord int, kind text, from_state text, "
        "to_state text, ts text, with_unit bool, is_public bool)"
    )
    cursor.executemany(
        "INSERT INTO datagen_path VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", list(_path_rows())
    )

    handling = Unit.objects.exclude(kind=UnitKind.CENTRE).filter(is_active=True)
    units = list(handling.order_by("path").values_list("id", flat=True))
    territorial = list(
        handling.filter(kind__in=[UnitKind.DISTRICT, UnitKind.STREET])
        .order_by("path").values_list("id", flat=True)
    )
    districts = list(
        handling.filter(kind=UnitKind.DISTRICT).order_by("path").values_list("name", flat=True)
    )
    return {
        "ncat": len(leaves), "units": units, "nunits": len(units), "territorial": territorial,
        "nterritorial": len(territorial), "districts": districts, "ndistricts": len(districts),
        "phrases": PHRASES, "prefixes": PREFIXES, "roads": ROADS, "surnames": SURNAMES,
    }


def _batch_seed(seed: int, batch: int) -> float:
    """PostgreSQL's setseed() value (-0.5 to 0.5) for one batch of one seed."""
    return ((seed * 104729 + batch * 7919) % 10000) / 10000 - 0.5


def generate(n: int, *, open_tickets: int | None = None, seed: int = 0, now=None, out=print) -> dict:
    """Replace the tickets and their events with `n` generated ones; return timings.

    `open_tickets`: exactly this many open (the rest closed, archived, rejected or
    merged); by default about a fifth are, as a real hotline's year has them.
    """
    from django.conf import settings
    from django.utils import timezone

    from tickets.models import RESOLVE_RUNNING_STATES

    now = now or timezone.now()
    with connection.cursor() as cursor:
        _restore_saved_indexes(cursor)
        cursor.execute("CREATE TABLE IF NOT EXISTS datagen_dataset "
                       "(tickets bigint, open_tickets bigint, generated_at timestamptz)")
        cursor.execute("DELETE FROM datagen_dataset")
        params = _lookup_tables(cursor, seed)
        params.update(n=n, now=now, tz=settings.TIME_ZONE)
        out(f"  {params['ncat']} leaf categories, {params['nunits']} handling units "
            f"({params['nterritorial']} districts and streets)")

        tickets_sql = TICKETS_SQL.replace("__MARKS__", _marks_sql(
            "st", lambda stage, which: f"{stage}_{which}"))
        if open_tickets is None:
            tickets_sql = tickets_sql.replace("__OPEN__", "r_state < p_open").replace(
                "__P0__", "p_open")
        else:
            params.update(_open_curve(n, open_tickets))
            tickets_sql = tickets_sql.replace("__OPEN__", _OPEN_BY_CURVE).replace("__P0__", "0")
        extra = _extra_columns(cursor, tickets_sql)
        tickets_sql = tickets_sql.replace(
            "__EXTRA_COLUMNS__", "".join(f", {c}" for c, _ in extra)
        ).replace("__EXTRA_VALUES__", "".join(f", {z}" for _, z in extra))
        if extra:
            out("  also filled with their zero: " + ", ".join(c for c, _ in extra))
        alerts_sql = ALERTS_SQL.replace("__MARKS__", _marks_sql(
            "t.state", lambda stage, which: f"t.{stage}_{which}_at"))
        today = timezone.localtime(now).date()
        mark_days = _mark_day_rows(now, today - dt.timedelta(days=400),
                                   today + dt.timedelta(days=120), out)
        cursor.execute("DROP TABLE IF EXISTS datagen_mark_day")
        cursor.execute("CREATE TEMP TABLE datagen_mark_day (day date, stage text, level text, "
                       "at timestamptz, PRIMARY KEY (day, stage, level))")
        cursor.executemany("INSERT INTO datagen_mark_day VALUES (%s, %s, %s, %s)", mark_days)
        cursor.execute("ANALYZE datagen_mark_day")

        started = time.perf_counter()
        cursor.execute("TRUNCATE tickets_ticket, tickets_ticketevent RESTART IDENTITY CASCADE")
        # Bulk load without the secondary indexes, then build each once (far cheaper than
        # maintaining two trigram GIN indexes and eight b-trees row by row). Their
        # definitions are kept in a table first, so an interrupted run puts them back.
        dropped = [*_secondary_indexes(cursor, "tickets_ticket"),
                   *_secondary_indexes(cursor, "tickets_ticketevent")]
        cursor.executemany("INSERT INTO datagen_saved_index VALUES (%s, %s)", dropped)
        for name, _definition in dropped:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        # The rows are consistent by construction: skip the per-row foreign-key triggers
        # (superuser only; without it the load is just slower). Commits need not wait
        # for the disk either: a crash only loses generated data.
        cursor.execute("SET synchronous_commit = off")
        try:
            cursor.execute("SET session_replication_role = replica")
            replica = True
        except DatabaseError:
            replica = False

        ticket_rows = event_rows = alert_rows = 0
        t_tickets = t_events = 0.0
        for batch, lo in enumerate(range(1, n + 1, BATCH)):
            hi = min(n, lo + BATCH - 1)
            with transaction.atomic():
                if not replica:
                    # Each ticket is written before its history, and the archive's guard
                    # (tickets.0014) refuses events on an archived ticket: off for this
                    # transaction only, so an interrupted run leaves it on.
                    cursor.execute(f"ALTER TABLE tickets_ticketevent DISABLE TRIGGER {ARCHIVE_GUARD}")
                cursor.execute("SELECT setseed(%s)", [_batch_seed(seed, batch)])
                t0 = time.perf_counter()
                cursor.execute(tickets_sql, {**params, "lo": lo, "hi": hi})
                ticket_rows += cursor.rowcount
                t1 = time.perf_counter()
                cursor.execute(EVENTS_SQL, {"lo": lo, "hi": hi})
                event_rows += cursor.rowcount
                cursor.execute(alerts_sql, {"lo": lo, "hi": hi, "now": now,
                                            "tz": settings.TIME_ZONE})
                alert_rows += cursor.rowcount
                cursor.execute(LISTED_SQL, {"lo": lo, "hi": hi, "listable": sorted(RESOLVE_RUNNING_STATES)})
                if not replica:
                    # The foreign-key checks still pending would forbid the ALTER: run them now.
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute(f"ALTER TABLE tickets_ticketevent ENABLE TRIGGER {ARCHIVE_GUARD}")
                t2 = time.perf_counter()
            t_tickets += t1 - t0
            t_events += t2 - t1
            out(f"  batch {batch + 1}: tickets {lo:,}-{hi:,} in {t1 - t0:.1f} s, "
                f"their events and cards in {t2 - t1:.1f} s")
        if replica:
            cursor.execute("SET session_replication_role = origin")
        load = time.perf_counter() - started

        t0 = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        for name, definition in dropped:
            t = time.perf_counter()
            cursor.execute(definition)
            out(f"  index {name}: {time.perf_counter() - t:.1f} s")
        cursor.execute("DELETE FROM datagen_saved_index")
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("RESET max_parallel_maintenance_workers")
        indexing = time.perf_counter() - t0

        # New ids come from the identity sequences (ticket_create uses nextval).
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), "
            "(SELECT coalesce(max(id), 0) + 1 FROM tickets_ticket), false)"
        )
        t0 = time.perf_counter()
        # VACUUM sets the visibility map and hint bits as a long-lived table has them;
        # ANALYZE gives the planner the distributions.
        cursor.execute("RESET synchronous_commit")
        cursor.execute("VACUUM (ANALYZE) tickets_ticket")
        cursor.execute("VACUUM (ANALYZE) tickets_ticketevent")
        cursor.execute("VACUUM (ANALYZE) tickets_deadlinealert")
        try:  # write the load's dirty pages now, not while the scenarios are measured
            cursor.execute("CHECKPOINT")
        except DatabaseError:
            pass
        analyze = time.perf_counter() - t0
        cursor.execute("INSERT INTO datagen_dataset VALUES (%s, %s, %s)", [n, open_tickets, now])
    total = time.perf_counter() - started
    # Measure on a fresh session, as a request would run: the loading session's state
    # (its temporary tables, its caches) made parallel queries measurably slower.
    connection.close()
    return dict(
        tickets=ticket_rows, events=event_rows, alerts=alert_rows, load=load, t_tickets=t_tickets,
        t_events=t_events,
        indexing=indexing, analyze=analyze, total=total, replica=replica,
    )


def describe() -> list[tuple[str, int]]:
    """The generated data's shape: tickets by state, and the open backlog past its deadline."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, count(*) FROM tickets_ticket GROUP BY state ORDER BY count(*) DESC"
        )
        rows = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM tickets_ticket WHERE due_at <= now()")
        rows.append(("(sla=breached)", cursor.fetchone()[0]))
        cursor.execute("SELECT count(*) FROM tickets_ticket WHERE next_check_at <= now()")
        rows.append(("(next_check_at passed)", cursor.fetchone()[0]))
        cursor.execute("SELECT count(*) FROM tickets_deadlinealert")
        rows.append(("(cards)", cursor.fetchone()[0]))
        cursor.execute("SELECT count(*) FROM tickets_ticketevent")
        rows.append(("(events)", cursor.fetchone()[0]))
    return rows

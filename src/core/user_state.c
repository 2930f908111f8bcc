#include "user_state.h"

#include <stdlib.h>
#include <string.h>

static const char *const reason_names[EVENT_REASON_COUNT] = {
    [EVENT_OK] = "ok",
    [EVENT_ERR_BAD_MSGPACK] = "bad_msgpack",
    [EVENT_ERR_TRAILING_BYTES] = "trailing_bytes",
    [EVENT_ERR_OVER_LIMIT] = "over_limit",
    [EVENT_ERR_NOT_A_MAP] = "not_a_map",
    [EVENT_ERR_MISSING_FIELD] = "missing_field",
    [EVENT_ERR_WRONG_TYPE] = "wrong_type",
    [EVENT_ERR_UNKNOWN_VERSION] = "unknown_version",
    [EVENT_ERR_UNKNOWN_TYPE] = "unknown_type",
    [EVENT_ERR_BAD_UTF8] = "bad_utf8",
    [EVENT_ERR_EMPTY_VALUE] = "empty_value",
    [EVENT_ERR_KEY_MISMATCH] = "key_mismatch",
    [EVENT_ERR_DUPLICATE_KEY] = "duplicate_key",
    [EVENT_ERR_OUT_OF_RANGE] = "out_of_range",
    [EVENT_ERR_BAD_FORMAT] = "bad_format",
    [EVENT_ERR_CONFLICT] = "conflicting_fields",
    [EVENT_ERR_NOMEM] = "out_of_memory",
    [EVENT_ERR_CORRUPT_STATE] = "corrupt_state",
    [EVENT_ERR_UNKNOWN_CODE] = "unknown_code",
    [EVENT_ERR_UNKNOWN_FIELD] = "unknown_field",
    [EVENT_ERR_WRONG_TOPIC] = "wrong_topic",
};

px_code event_reason_code(int reason) {
    switch (reason) {
    case EVENT_ERR_NOMEM: return PX_ENOMEM;
    case EVENT_ERR_OVER_LIMIT: return PX_ELIMIT;
    case EVENT_ERR_UNKNOWN_CODE: return PX_ENOTFOUND;
    case EVENT_ERR_UNKNOWN_FIELD: return PX_EINVAL; /* a contract breach, as wrong_type */
    default: return PX_EINVAL;
    }
}

const char *event_reason_name(int reason) {
    return reason >= 0 && reason < EVENT_REASON_COUNT ? reason_names[reason] : "unknown";
}

static const char *const type_names[] = {
    [EVENT_PROFILE_UPSERTED] = "profile.upserted",
    [EVENT_PROFILE_ERASED] = "profile.erased",
    [EVENT_SKILLS_CONFIRMED] = "skills.confirmed",
    [EVENT_PROFILE_REMATCH] = "profile.rematch",
};

const char *event_type_name(event_type type) {
    return type >= EVENT_PROFILE_UPSERTED && type <= EVENT_TYPE_LAST ? type_names[type] : "unknown";
}

event_topic event_type_topic(event_type type) {
    return type == EVENT_SKILLS_CONFIRMED ? EVENT_TOPIC_SKILLS : EVENT_TOPIC_PROFILE;
}

void event_free(event *ev) {
    if (!ev) return;
    free(ev->event_id);
    free(ev->user_id);
    free(ev->rome_version);
    profile_free(&ev->profile);
    memset(ev, 0, sizeof *ev);
}

int32_t event_ts_year(int64_t ts_ms) {
    /* Floor division, then the civil-from-days algorithm (H. Hinnant): the proleptic Gregorian
     * calendar in UTC, with no locale, timezone or time_t range involved. */
    int64_t days = ts_ms / 86400000 - (ts_ms % 86400000 < 0);
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* [0, 365], from 1 March */
    int64_t mp = (5 * doy + 2) / 153;                      /* [0, 11], March = 0 */
    int64_t year = yoe + era * 400 + (mp >= 10);           /* January, February */
    return year > INT32_MAX ? INT32_MAX : year < INT32_MIN ? INT32_MIN : (int32_t)year;
}

void user_state_free(user_state *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n_recent; i++) free(st->recent_event_ids[i]);
    free(st->recent_event_ids);
    profile_free(&st->profile);
    memset(st, 0, sizeof *st);
}

bool user_state_seen(const user_state *st, const char *event_id) {
    for (size_t i = 0; i < st->n_recent; i++)
        if (!strcmp(st->recent_event_ids[i], event_id)) return true;
    return false;
}

int user_state_remember(user_state *st, const char *event_id, size_t window, px_error *err) {
    if (window < 1)
        return event_fail(err, EVENT_ERR_OUT_OF_RANGE,
                          "user state: the idempotency window must be at least 1");
    char *copy = strdup(event_id);
    char **grown = copy ? realloc(st->recent_event_ids, (st->n_recent + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(copy);
        return event_fail(err, EVENT_ERR_NOMEM, "user state: out of memory");
    }
    st->recent_event_ids = grown;
    st->recent_event_ids[st->n_recent++] = copy;
    if (st->n_recent > window) {
        size_t drop = st->n_recent - window;
        for (size_t i = 0; i < drop; i++) free(st->recent_event_ids[i]);
        memmove(st->recent_event_ids, st->recent_event_ids + drop,
                window * sizeof *st->recent_event_ids);
        st->n_recent = window;
    }
    return 0;
}

/* The decisions cap (see the header): drops the oldest decisions of p beyond max, from the front
 * of the list holding the most decisions older than ev, never one of ev's own. */
static void cap_decisions(profile *p, const profile *ev, size_t max) {
    profile_codes *lists[3] = {&p->confirmed, &p->rejected, &p->added};
    const profile_codes *own[3] = {&ev->confirmed, &ev->rejected, &ev->added};
    size_t older[3] = {0, 0, 0}, drop[3] = {0, 0, 0}, total = 0;
    for (int l = 0; l < 3; l++) {
        for (size_t k = 0; k < lists[l]->n; k++)
            older[l] += !profile_codes_contains(own[l], lists[l]->v[k]);
        total += lists[l]->n;
    }
    for (; total > max; total--) {
        int l = 0;
        for (int c = 1; c < 3; c++)
            if (older[c] - drop[c] > older[l] - drop[l]) l = c;
        if (older[l] == drop[l]) break; /* only ev's own decisions are left */
        drop[l]++;
    }
    for (int l = 0; l < 3; l++) {
        size_t w = 0;
        for (size_t r = 0; r < lists[l]->n; r++) {
            uint32_t code = lists[l]->v[r];
            if (drop[l] && !profile_codes_contains(own[l], code))
                drop[l]--;
            else
                lists[l]->v[w++] = code;
        }
        lists[l]->n = w;
    }
}

int user_state_next_profile(const user_state *st, const event *ev, size_t max_decisions,
                            profile *out, px_error *err) {
    memset(out, 0, sizeof *out);
    if (ev->type != EVENT_PROFILE_UPSERTED && ev->type != EVENT_SKILLS_CONFIRMED)
        return event_fail(err, EVENT_ERR_UNKNOWN_TYPE, "type: %s leaves no profile to match",
                          event_type_name(ev->type));
    /* upserted: its profile, with every decision taken so far; confirmed: the stored profile
     * (include_regulated included), with this event's decisions. */
    bool upserted = ev->type == EVENT_PROFILE_UPSERTED;
    const profile *base = upserted ? &ev->profile : &st->profile;
    const profile *dec = upserted ? &st->profile : &ev->profile;
    if (profile_copy(out, base, err) ||
        profile_apply_decisions(out, &dec->confirmed, &dec->rejected, &dec->added, err)) {
        profile_free(out);
        return event_fail(err, EVENT_ERR_NOMEM, "%s %s: out of memory building the profile",
                          event_type_name(ev->type), ev->event_id ? ev->event_id : "?");
    }
    cap_decisions(out, &ev->profile, max_decisions);
    out->as_of_year = event_ts_year(ev->ts);
    return 0;
}

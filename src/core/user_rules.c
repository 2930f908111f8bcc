#include "user_rules.h"

#include <stdio.h>
#include <string.h>

static int dead_letter(user_outcome *out, int reason, const char *why) {
    out->action = USER_DEAD_LETTER;
    out->dead_letter_reason = reason;
    snprintf(out->why, sizeof out->why, "%s", why);
    return 0;
}

/* Stores the matched profile `next` (taking it over; NULL keeps the stored one: a rematch) and
 * the event as applied. */
static int store(const user_rules *rules, user_state *state, const event *ev, profile *next,
                 px_error *err) {
    /* remembered first: the only step that can fail, so that a failure leaves state as it was */
    if (user_state_remember(state, ev->event_id, rules->window, err)) return -1;
    if (next) {
        profile_free(&state->profile);
        state->profile = *next;
        memset(next, 0, sizeof *next);
    }
    if (ev->type == EVENT_PROFILE_UPSERTED) state->has_profile = true;
    snprintf(state->rome_version, sizeof state->rome_version, "%s", rules->index_version);
    state->updated_ts = ev->ts;
    return 0;
}

/* Whether event_id was applied already, and if so whether it is the person's latest applied
 * event: recent_event_ids runs oldest first, so the latest is the last one. */
static user_repeat repeat_of(const user_state *state, const char *event_id) {
    if (!user_state_seen(state, event_id)) return USER_NOT_REPEATED;
    return strcmp(state->recent_event_ids[state->n_recent - 1], event_id) ? USER_REPEAT_SUPERSEDED
                                                                          : USER_REPEAT_SAME_ANSWER;
}

/* Right to erasure: the profile and the decisions go, and a tombstone tells downstream services
 * to forget too. The ids of the applied events stay, with this erasure's (the daemon keeps such a
 * state for [redis] erased_ttl_s only): an older event delivered again after the erasure is then
 * a superseded repeat, not a first event answered under its old suggestion_id with other
 * content. An unreadable state keeps nothing but this erasure's id. The erasure itself delivered
 * again is a repeat too: the latest, it answers the same tombstone on the state it left; an older
 * one is superseded and must not wipe what the person did since. */
static int erase(const user_rules *rules, user_state *state, bool state_corrupt, const event *ev,
                 user_outcome *out, px_error *err) {
    if (!state_corrupt) out->repeat = repeat_of(state, ev->event_id);
    if (out->repeat == USER_REPEAT_SUPERSEDED) {
        out->action = USER_EMIT_NOTHING;
        return 0;
    }
    if (out->repeat == USER_REPEAT_SAME_ANSWER) {
        out->action = USER_EMIT_TOMBSTONE;
        return 0;
    }
    user_state kept;
    memset(&kept, 0, sizeof kept);
    if (!state_corrupt) {
        kept.recent_event_ids = state->recent_event_ids;
        kept.n_recent = state->n_recent;
        state->recent_event_ids = NULL;
        state->n_recent = 0;
    }
    user_state_free(state);
    *state = kept;
    if (user_state_remember(state, ev->event_id, rules->window, err))
        return -1; /* out of memory: the caller retries */
    state->updated_ts = ev->ts;
    out->action = USER_EMIT_TOMBSTONE;
    out->state_changed = true;
    return 0;
}

int user_rules_apply(const user_rules *rules, user_state *state, bool state_corrupt,
                     const event *ev, match_result *result, user_outcome *out, px_error *err) {
    memset(out, 0, sizeof *out);
    if (ev->type == EVENT_PROFILE_ERASED) return erase(rules, state, state_corrupt, ev, out, err);
    if (state_corrupt)
        return dead_letter(out, EVENT_ERR_CORRUPT_STATE,
                           "stored state of this user is unreadable (see the daemon log)");
    px_error local = {0};
    if (!err) err = &local;
    bool rematch = ev->type == EVENT_PROFILE_REMATCH;
    out->repeat = repeat_of(state, ev->event_id);
    /* superseded: the state that event produced is gone; or a rematch of a person never
     * profiled, or erased since the scan saw them */
    if (out->repeat == USER_REPEAT_SUPERSEDED || (rematch && !state->has_profile)) {
        out->action = USER_EMIT_NOTHING;
        return 0;
    }
    bool repeat = out->repeat == USER_REPEAT_SAME_ANSWER;
    if (rematch && rules->index_pending && strcmp(ev->rome_version, rules->index_version))
        return px_error_set(err, PX_EUNAVAILABLE,
                            "rematch %s: index %s not loaded yet (matching on %s)", ev->event_id,
                            ev->rome_version, rules->index_version);
    profile next;
    memset(&next, 0, sizeof next);
    /* The repeat of the latest event matches what that event stored. as_of_year is not stored:
     * recency is counted to the year of the ts stored with it (the event's own, as the first run
     * did), and the answers carry that ts, so that the repeat yields the same bytes. A shallow
     * copy, read only: the state is not touched. */
    out->ts = repeat ? state->updated_ts : ev->ts;
    profile replayed = state->profile;
    replayed.as_of_year = event_ts_year(out->ts);
    if (!repeat && !rematch &&
        user_state_next_profile(state, ev, rules->max_decisions, &next, err)) {
        if (err->code == PX_ENOMEM) return -1;
        return dead_letter(out, err->reason, err->msg);
    }
    out->matched = true;
    const profile *to_match = repeat || rematch ? &replayed : &next;
    if (matcher_run(rules->matcher, rules->scratch, to_match, result, err)) {
        profile_free(&next);
        if (err->code == PX_ENOMEM) return -1;
        int reason = err->code == PX_ELIMIT ? EVENT_ERR_OVER_LIMIT : EVENT_ERR_UNKNOWN_CODE;
        return dead_letter(out, reason, err->msg);
    }
    if (!repeat) {
        int rc = store(rules, state, ev, rematch ? NULL : &next, err);
        profile_free(&next);
        if (rc) return -1;
        out->state_changed = true;
    }
    out->action = USER_EMIT_SUGGESTIONS;
    out->skills = ev->type == EVENT_PROFILE_UPSERTED || rematch;
    out->jobs = true;
    return 0;
}

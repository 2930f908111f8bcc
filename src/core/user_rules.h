/* user_rules — what one event does to its person's state, and what it answers.
 *
 * The event rules of DESIGN "Events (v1)" and "Guarantees", in one pure function the daemon
 * calls for every decoded event, in the order of its partition:
 *   - profile.erased: the profile and the decisions are dropped (even from an unreadable state:
 *     erasure must always work) and a tombstone answers; the state keeps only the ids of the
 *     applied events and this erasure's, so that an older event delivered again afterwards is a
 *     superseded repeat (the daemon stores such a state for [redis] erased_ttl_s). An erasure
 *     delivered again follows the repeat rule below (the latest: the same tombstone, the state
 *     unchanged; an older one: nothing, the person's later events stay);
 *   - otherwise, an unreadable stored state refuses the event (corrupt_state);
 *   - an event_id among the state's recent ids is a repeat (crash, rebalance, redelivery), and the
 *     state is left as it is. One event, one answer: a repeat yields the bytes it yielded the
 *     first time, or nothing. The repeat of the LATEST applied event (the last recent id) is
 *     matched on the stored profile, which is exactly what that event left, recency counted to
 *     the year of its ts as stored (the repeat's own content, ts included, is ignored): the same
 *     outputs go out (same_answer). The repeat of an OLDER one gets nothing from the rules
 *     (superseded): the state it produced is gone (the daemon sends it the answers it kept the
 *     first time, daemon.h). A profile.rematch follows the same rule. Out of the window a repeat is a new event. (A
 *     repeat matched after an index swap is answered on the new index: the outputs then carry
 *     its rome_version and so another suggestion_id, as a rematch's would.);
 *   - a new event: the profile to match is merged (user_state_next_profile: an upsert keeps the
 *     competence decisions, a confirmation adds its own, under the decisions cap), matched, and
 *     on success stored with the index version, the event's ts and its id remembered;
 *   - profile.rematch (`passerelle rematch`, after a new index was published): the stored profile
 *     is matched again on the current index, as a replay is, and the state only gets the event
 *     id, the index version and the event's ts. A person with no stored profile (never profiled,
 *     or erased since the scan) gets nothing: no output, no dead letter. When the rematch targets
 *     another version than the index and a newer index is being loaded (index_pending), the call
 *     fails as retriable (PX_EUNAVAILABLE) so that the refresh waits for that index; with none
 *     pending, it matches on the index there is and the outputs say which (their rome_version):
 *     a refresh is never dropped, and never waits for a version that may never come;
 *   - what goes out: skills.suggested for profile.upserted and profile.rematch (a new version may
 *     change the competences a job implies as well as the occupations), jobs.suggested always;
 *   - a refusal by the matcher is a dead letter: over a limit (PX_ELIMIT) → over_limit, anything
 *     else (unknown code, malformed domain) → unknown_code. Out of memory is never the event's
 *     fault: the call fails and the caller retries, nothing is dead-lettered.
 *
 * Pure: libc, matcher.h, user_state.h. Ownership: the caller owns every argument; the rules only
 * change *state, *result and *out. Thread-safety: one call at a time per scratch (the matcher
 * itself may be shared). */
#ifndef USER_RULES_H
#define USER_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "matcher.h"
#include "px_error.h"
#include "user_state.h"

/* What the rules apply with: one index and its version, and the daemon's configuration. */
typedef struct user_rules {
    const matcher *matcher;
    matcher_scratch *scratch;  /* the calling thread's */
    const char *index_version; /* label of the matcher's index ("4.0-60"), stamped on the state */
    size_t window;             /* event ids remembered per user (idempotency window), >= 1 */
    size_t max_decisions;      /* the decisions cap (user_state_next_profile);
                                   MATCHER_MAX_DECISIONS in the daemon, above which the matcher
                                   refuses a profile */
    bool index_pending;        /* a newer index is being loaded (see profile.rematch above) */
} user_rules;

typedef enum user_action {
    USER_EMIT_SUGGESTIONS = 1, /* answer with the suggestions in *result (skills, jobs) */
    USER_EMIT_TOMBSTONE,       /* the person is erased: store the emptied state (the applied
                                   event ids only) for the erased TTL when state_changed (not
                                   for a repeat), answer with a tombstone */
    USER_DEAD_LETTER,          /* refuse the event: dead_letter_reason, why */
    USER_EMIT_NOTHING,         /* nothing to answer or store (a rematch without a profile, a
                                   superseded repeat) */
} user_action;

typedef enum user_repeat {
    USER_NOT_REPEATED = 0,   /* a new event (or one out of the idempotency window) */
    USER_REPEAT_SAME_ANSWER, /* the latest applied event: answered again, identically */
    USER_REPEAT_SUPERSEDED,  /* an older one: USER_EMIT_NOTHING, a later answer supersedes it */
} user_repeat;

typedef struct user_outcome {
    user_action action;
    bool skills;                /* USER_EMIT_SUGGESTIONS: skills.suggested goes out */
    bool jobs;                  /* USER_EMIT_SUGGESTIONS: jobs.suggested goes out */
    user_repeat repeat;         /* USER_REPEAT_*: the event had been applied, the state is
                                   unchanged; USER_NOT_REPEATED for a new event */
    int64_t ts;                 /* USER_EMIT_SUGGESTIONS: the ts the answers carry, that of the
                                   event answered as first applied: never a clock, so that a
                                   repeat answered again is the same bytes */
    bool state_changed;         /* *state must be written (a tombstone's: the erased TTL) */
    bool matched;               /* matcher_run() was called (for its timing metric) */
    int dead_letter_reason;     /* USER_DEAD_LETTER: an event_reason; EVENT_OK otherwise */
    char why[PX_ERROR_MSG_MAX]; /* USER_DEAD_LETTER: the human reason, naming the field */
} user_outcome;

/* Applies ev to *state (the person's stored state, or a zeroed one when there is none;
 * state_corrupt when the stored one could not be read) and says what to answer in *out. On
 * USER_EMIT_SUGGESTIONS, *result holds the match to encode (it is reused as matcher_run()
 * does). Returns 0 for every outcome, a dead letter included; -1 only when out of memory
 * (err->code PX_ENOMEM) or for a rematch that waits for the pending index (PX_EUNAVAILABLE):
 * *state is then unchanged, of *out only `matched` is meaningful, and the caller retries later. */
int user_rules_apply(const user_rules *rules, user_state *state, bool state_corrupt,
                     const event *ev, match_result *result, user_outcome *out, px_error *err);

#endif

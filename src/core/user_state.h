/* user_state — events and the per-user state as plain data, and the pure rules that merge them.
 *
 * The event codec (src/codec/event_codec.h) decodes Kafka messages into `event` and stores
 * `user_state` in Redis; the rules (user_rules.h) apply one to the other. Neither needs to know
 * how they are encoded, so they live here, in the core: libc, profile.h and px_error.h only.
 *
 * The contract's refusal reasons (event_reason) are here too: the codec sets most of them, the
 * rules the ones that need a state or the index (corrupt_state, over_limit, unknown_code).
 * unknown_field is never dead-lettered: the daemon decodes leniently (forward compatibility).
 *
 * Ownership: an event and a user_state own every string and array they point to (event_free,
 * user_state_free release them, not the struct). A zeroed struct is a valid empty one.
 * Stateless functions; thread-safe on distinct objects. */
#ifndef USER_STATE_H
#define USER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "px_error.h"
#include "px_limits.h"

/* Why an event was refused: err->reason of every decoding and rule function. The names are part
 * of the DLQ contract (field `reason`): never renumber or rename, only append. */
typedef enum event_reason {
    EVENT_OK = 0,
    EVENT_ERR_BAD_MSGPACK = 1,     /* "bad_msgpack": empty, truncated, invalid byte, over-declared
                                      count */
    EVENT_ERR_TRAILING_BYTES = 2,  /* "trailing_bytes": bytes after the event map */
    EVENT_ERR_OVER_LIMIT = 3,      /* "over_limit": message size, nesting, count or length over a
                                      limit */
    EVENT_ERR_NOT_A_MAP = 4,       /* "not_a_map": the message is not a MessagePack map */
    EVENT_ERR_MISSING_FIELD = 5,   /* "missing_field" */
    EVENT_ERR_WRONG_TYPE = 6,      /* "wrong_type" */
    EVENT_ERR_UNKNOWN_VERSION = 7, /* "unknown_version": `v` other than 1 */
    EVENT_ERR_UNKNOWN_TYPE = 8,    /* "unknown_type": `type` not an event of this topic family */
    EVENT_ERR_BAD_UTF8 = 9,        /* "bad_utf8": a string (or key) is not valid UTF-8 */
    EVENT_ERR_EMPTY_VALUE = 10,    /* "empty_value": empty id/title/name, no experience, no
                                      decision list */
    EVENT_ERR_KEY_MISMATCH = 11,   /* "key_mismatch": Kafka key missing or different from user_id */
    EVENT_ERR_DUPLICATE_KEY = 12,  /* "duplicate_key": a map holds the same key twice */
    EVENT_ERR_OUT_OF_RANGE = 13,   /* "out_of_range": a number outside its documented range */
    EVENT_ERR_BAD_FORMAT = 14,     /* "bad_format": a code not in its documented form (rome,
                                      domain) */
    EVENT_ERR_CONFLICT = 15,       /* "conflicting_fields": e.g. an experience with both rome and
                                      title */
    EVENT_ERR_NOMEM = 16,          /* "out_of_memory": not the event's fault; retry, don't
                                      dead-letter */
    EVENT_ERR_CORRUPT_STATE = 17,  /* "corrupt_state": stored user state unreadable */
    EVENT_ERR_UNKNOWN_CODE = 18,   /* "unknown_code": names a code the ROME index does not know
                                      (set by user_rules_apply when matcher_run() refuses it) */
    EVENT_ERR_UNKNOWN_FIELD = 19,  /* "unknown_field": a key no table names, refused only by a
                                      strict decode (passerelle match/send --strict) */
    EVENT_ERR_WRONG_TOPIC = 20,    /* "wrong_topic": a type of the other input topic (see
                                      event_type_topic) */
} event_reason;

#define EVENT_REASON_COUNT 21

/* "bad_msgpack", … for the values above; "unknown" for anything else. */
const char *event_reason_name(int reason);
/* The error code of a refusal: PX_ENOMEM (retry, never dead-letter), PX_ELIMIT, PX_ENOTFOUND
 * (unknown code) or PX_EINVAL. */
px_code event_reason_code(int reason);

/* Sets err to a refusal with its contract reason (and the code that follows from it); -1. */
#define event_fail(err, reason, ...)                                                               \
    px_error_set_reason((err), event_reason_code(reason), (reason), __VA_ARGS__)

typedef enum event_type {
    EVENT_PROFILE_UPSERTED = 1,
    EVENT_PROFILE_ERASED = 2,
    EVENT_SKILLS_CONFIRMED = 3,
    EVENT_PROFILE_REMATCH = 4, /* `passerelle rematch`: match the stored profile again */
} event_type;

#define EVENT_TYPE_LAST EVENT_PROFILE_REMATCH

/* "profile.upserted", …; "unknown" for anything else. */
const char *event_type_name(event_type type);

/* The input topic an event type is consumed from: skills.confirmed on the skills topic, the
 * profile.* types on the profile topic. One of them on the other topic is EVENT_ERR_WRONG_TOPIC. */
typedef enum event_topic { EVENT_TOPIC_PROFILE = 0, EVENT_TOPIC_SKILLS = 1 } event_topic;
event_topic event_type_topic(event_type type);

/* An input event. Owns its strings and profile. */
typedef struct event {
    event_type type;
    char *event_id;
    char *user_id;
    int64_t ts; /* milliseconds since the epoch */
    /* profile.upserted: experiences, avoid_*, domains, exclude_domains, include_regulated.
     * skills.confirmed: confirmed, rejected, added (the decision of this event only).
     * profile.erased, profile.rematch: empty. */
    profile profile;    /* as_of_year is 0: see user_state_next_profile */
    char *rome_version; /* profile.rematch: the index version it targets ("4.0-61"); else NULL */
} event;

void event_free(event *ev);

/* The UTC year of a time in milliseconds since the epoch (1764393600000 → 2025): what a
 * profile's as_of_year is set to from an event's ts. Pure arithmetic: no locale, no timezone. */
int32_t event_ts_year(int64_t ts_ms);

#define USER_STATE_ROME_VERSION_MAX                                                                \
    PX_VERSION_LABEL_MAX /* bytes of a version label (px_limits.h) */

/* What passerelle keeps about one person between events. */
typedef struct user_state {
    bool has_profile;        /* a profile.upserted was applied (decisions may come first) */
    profile profile;         /* last upserted profile (with include_regulated) + the competence
                                   decisions (see user_state_next_profile); as_of_year is not
                                   stored */
    char **recent_event_ids; /* oldest first, at most the window given to user_state_remember */
    size_t n_recent;
    /* version label of the index of the last applied event ("4.0-60"); "" = none yet */
    char rome_version[USER_STATE_ROME_VERSION_MAX + 1];
    int64_t updated_ts; /* ts of the last applied event, ms since the epoch */
} user_state;

void user_state_free(user_state *st);

/* True when event_id is among the recently applied events. */
bool user_state_seen(const user_state *st, const char *event_id);

/* Records event_id as applied, dropping the oldest ids beyond `window` (>= 1). On failure
 * (EVENT_ERR_OUT_OF_RANGE for a zero window, EVENT_ERR_NOMEM) st is unchanged. */
int user_state_remember(user_state *st, const char *event_id, size_t window, px_error *err);

/* The profile to match for ev (profile.upserted or skills.confirmed) and to store after it: an
 * upsert replaces experiences, constraints, preferences and include_regulated and keeps the
 * competence decisions of st; a confirmation applies its decisions to st's profile
 * (profile_apply_decisions: a code moves to the end of the list it was last put in, so each list
 * runs from the oldest decision to the latest). as_of_year is the UTC year of ev->ts.
 *
 * The decisions cap: when confirmed + rejected + added would exceed max_decisions, the oldest
 * decisions are dropped first — one at a time from the front of whichever list holds the most
 * decisions older than ev — so that a person who keeps deciding keeps being served, and ev's
 * own decisions always apply (they are never dropped: one event over the limit is the codec's
 * max_competences and the matcher's MATCHER_MAX_DECISIONS to refuse).
 *
 * *out is overwritten (free it with profile_free). Returns -1 with EVENT_ERR_UNKNOWN_TYPE for
 * another event type, EVENT_ERR_NOMEM when out of memory. */
int user_state_next_profile(const user_state *st, const event *ev, size_t max_decisions,
                            profile *out, px_error *err);

#endif

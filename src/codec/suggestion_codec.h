/* suggestion_codec — the output events `skills.suggested` and `jobs.suggested` as MessagePack,
 * from a match_result (matcher.h). Field by field contract: docs/matching.md ("Output").
 *
 * Every map has string keys. Envelope (both events): v (1), type, event_id (= suggestion_id),
 * user_id, ts (the answered event's), answers (the event_id of the input answered), rome_version,
 * suggestion_id. Bodies:
 *   skills.suggested: experiences, skills [{code, label, kind, macro, from, weight}]
 *   jobs.suggested:   experiences, jobs [{rome, label, score, components {competences, related,
 *                     profile, kinship, level}, held_share, level, regulated, cadre, no_evidence,
 *                     qualification_gap, held, missing, contexts, qualifications, reasons,
 *                     esco}],
 *                     current, excluded {constraints [{avoid, removed, jobs [{rome, label,
 *                     because, code}]}], domains, regulated {removed, jobs [{rome, label}]}}
 * `esco` [{uri, relation}] is written only when the index holds the ESCO crosswalk (rome_has_esco;
 * without it the bytes are those of an index that never knew ESCO): on each job, the fiche's
 * ESCO occupations; on each resolved experience, its appellation's (the fiche's when the
 * experience names a fiche only). Best relation first: exact, close, broad, narrow.
 * `passerelle match` writes both bodies in one map (suggestion_encode_match).
 * Reals are rounded to 4 decimals so that text renderings are short and stable, and are float64.
 * Integers are in MessagePack's shortest form, except in the code lists held, missing, contexts
 * and qualifications: there every code_ogr is a uint32 in its 5-byte form (0xce, 4 bytes big
 * endian) whatever its value, so that a list of n codes is its array header and 5n bytes, written
 * in one pass (docs/asyncapi.yaml: `format: uint32`). Every MessagePack decoder reads both forms
 * as the same integer.
 *
 * suggestion_id is XXH3-128 of (answered event_id, output type, rome_version), in 32 lowercase hex
 * digits: the same input answered under the same ROME version always gets the same id, so a
 * consumer drops a repeat.
 *
 * Ownership: the encoders append to a caller's msgpack_packer through its callback, in blocks of
 * up to 8 KiB assembled on the encoder's stack (one call per block, not per value; a string over
 * 4 KiB goes in a call of its own), the last one before they return. On error the buffer holds a
 * partial map: discard it. The jobs encoders refuse a result whose removal lists name an id the index
 * does not have (err names the field) before writing anything. Stateless and thread-safe. */
#ifndef SUGGESTION_CODEC_H
#define SUGGESTION_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "matcher.h"
#include "px_error.h"

#define SUGGESTION_ID_LEN      32u /* hex digits, without the NUL */
#define SUGGESTION_TYPE_SKILLS "skills.suggested"
#define SUGGESTION_TYPE_JOBS   "jobs.suggested"

/* Every byte of an answer follows from the event answered, the index version and the match: the
 * output's event_id is its suggestion_id, and its ts is the answered event's, never a clock, so
 * that two answers to one event under one version are the same bytes (DESIGN "Guarantees"). */
typedef struct suggestion_envelope {
    const char *user_id;
    int64_t ts;               /* the answered event's (user_outcome.ts), ms since the epoch */
    const char *answers;      /* event_id of the input event answered */
    const char *rome_version; /* suggestion_rome_version() or the snapshot's version string */
} suggestion_envelope;

/* Writes the 32 hex digits and a NUL into out. */
void suggestion_id_compute(const char *answered_event_id, const char *type,
                           const char *rome_version, char out[SUGGESTION_ID_LEN + 1]);

/* "4.0-60" for ROME 4.0 version 60 (what `rome_version` carries when nothing else names it). */
void suggestion_rome_version(const rome_index *idx, char *out, size_t out_size);

int suggestion_encode_skills(msgpack_packer *pk, const suggestion_envelope *env, const matcher *m,
                             const match_result *r, px_error *err);
int suggestion_encode_jobs(msgpack_packer *pk, const suggestion_envelope *env, const matcher *m,
                           const match_result *r, px_error *err);

/* The `passerelle match` result line: {user_id, rome_version, experiences, skills, jobs, current,
 * excluded}. */
int suggestion_encode_match(msgpack_packer *pk, const char *user_id, const char *rome_version,
                            const matcher *m, const match_result *r, px_error *err);

#endif

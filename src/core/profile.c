#include "profile.h"

#include <stdlib.h>
#include <string.h>

#include "px_array.h"

static void strings_free(profile_strings *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static void codes_free(profile_codes *c) {
    free(c->v);
    memset(c, 0, sizeof *c);
}

void profile_free(profile *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_experiences; i++) free(p->experiences[i].title);
    free(p->experiences);
    codes_free(&p->avoid_contextes);
    strings_free(&p->avoid_named);
    strings_free(&p->domains);
    strings_free(&p->exclude_domains);
    codes_free(&p->confirmed);
    codes_free(&p->rejected);
    codes_free(&p->added);
    memset(p, 0, sizeof *p);
}

/* Makes room in *v (n elements of size elem) for one more. */
static int grow(void **v, size_t *cap, size_t n, size_t elem, px_error *err) {
    if (px_array_reserve(v, cap, n + 1, elem))
        return px_error_set(err, PX_ENOMEM, "profile: out of memory");
    return 0;
}

profile_experience *profile_add_experience(profile *p, px_error *err) {
    if (grow((void **)&p->experiences, &p->cap_experiences, p->n_experiences,
             sizeof *p->experiences, err))
        return NULL;
    profile_experience *e = &p->experiences[p->n_experiences++];
    memset(e, 0, sizeof *e);
    e->months = -1;
    e->end_year = -1;
    return e;
}

int profile_codes_push(profile_codes *codes, uint32_t code, px_error *err) {
    if (grow((void **)&codes->v, &codes->cap, codes->n, sizeof *codes->v, err)) return -1;
    codes->v[codes->n++] = code;
    return 0;
}

int profile_strings_push(profile_strings *strings, const char *s, size_t len, px_error *err) {
    if (grow((void **)&strings->v, &strings->cap, strings->n, sizeof *strings->v, err)) return -1;
    char *copy = malloc(len + 1);
    if (!copy) return px_error_set(err, PX_ENOMEM, "profile: out of memory");
    memcpy(copy, s, len);
    copy[len] = '\0';
    strings->v[strings->n++] = copy;
    return 0;
}

static int codes_copy(profile_codes *dst, const profile_codes *src, px_error *err) {
    for (size_t i = 0; i < src->n; i++)
        if (profile_codes_push(dst, src->v[i], err)) return -1;
    return 0;
}

static int strings_copy(profile_strings *dst, const profile_strings *src, px_error *err) {
    for (size_t i = 0; i < src->n; i++)
        if (profile_strings_push(dst, src->v[i], strlen(src->v[i]), err)) return -1;
    return 0;
}

int profile_copy(profile *dst, const profile *src, px_error *err) {
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < src->n_experiences; i++) {
        profile_experience *e = profile_add_experience(dst, err);
        if (!e) goto fail;
        *e = src->experiences[i];
        e->title = NULL;
        if (src->experiences[i].title && !(e->title = strdup(src->experiences[i].title))) {
            px_error_set(err, PX_ENOMEM, "profile: out of memory");
            goto fail;
        }
    }
    if (codes_copy(&dst->avoid_contextes, &src->avoid_contextes, err) ||
        strings_copy(&dst->avoid_named, &src->avoid_named, err) ||
        strings_copy(&dst->domains, &src->domains, err) ||
        strings_copy(&dst->exclude_domains, &src->exclude_domains, err) ||
        codes_copy(&dst->confirmed, &src->confirmed, err) ||
        codes_copy(&dst->rejected, &src->rejected, err) ||
        codes_copy(&dst->added, &src->added, err))
        goto fail;
    dst->include_regulated = src->include_regulated;
    dst->as_of_year = src->as_of_year;
    return 0;
fail:
    profile_free(dst);
    return -1;
}

static void codes_remove(profile_codes *c, uint32_t code) {
    size_t w = 0;
    for (size_t r = 0; r < c->n; r++)
        if (c->v[r] != code) c->v[w++] = c->v[r];
    c->n = w;
}

bool profile_codes_contains(const profile_codes *c, uint32_t code) {
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i] == code) return true;
    return false;
}

/* Puts each code of `from` at the end of `into`, removing it from wherever it was: each list
 * runs from the oldest decision to the latest, which the decisions cap relies on
 * (user_state_next_profile). */
static int move_codes(profile *p, const profile_codes *from, profile_codes *into, px_error *err) {
    if (!from) return 0;
    profile_codes *lists[3] = {&p->confirmed, &p->rejected, &p->added};
    for (size_t i = 0; i < from->n; i++) {
        for (int l = 0; l < 3; l++) codes_remove(lists[l], from->v[i]);
        if (profile_codes_push(into, from->v[i], err)) return -1;
    }
    return 0;
}

int profile_apply_decisions(profile *p, const profile_codes *confirmed,
                            const profile_codes *rejected, const profile_codes *added,
                            px_error *err) {
    if (move_codes(p, confirmed, &p->confirmed, err) ||
        move_codes(p, rejected, &p->rejected, err) || move_codes(p, added, &p->added, err))
        return -1;
    return 0;
}

/* matcher_run — one match: the five stages in order (matcher_private.h). */
#include <stdlib.h>
#include <string.h>

#include "matcher_private.h"

static int check_limits(const profile *p, px_error *err) {
    if (p->n_experiences > MATCHER_MAX_EXPERIENCES)
        return px_error_set(err, PX_ELIMIT, "experiences: %zu given, at most %u are accepted",
                            p->n_experiences, MATCHER_MAX_EXPERIENCES);
    size_t decisions = p->confirmed.n + p->rejected.n + p->added.n;
    if (decisions > MATCHER_MAX_DECISIONS)
        return px_error_set(err, PX_ELIMIT,
                            "confirmed + rejected + added: %zu codes, at most %u are accepted",
                            decisions, MATCHER_MAX_DECISIONS);
    return 0;
}

int matcher_run(const matcher *m, matcher_scratch *s, const profile *p, match_result *out,
                px_error *err) {
    px_error local = {0};
    if (!err) err = &local;
    px_error_clear(err);
    out->n_experiences = out->n_skills = out->n_jobs = out->n_current = out->n_constraints =
        out->n_codes = 0;
    out->n_removals = 0;
    out->removed_by_domain = out->removed_regulated = out->regulated_off = out->regulated_n = 0;
    out->fiches_scored = 0;
    if (check_limits(p, err) || matcher_resolve(m, s, p, out, err) ||
        matcher_infer(m, s, p, out, err))
        return -1;
    matcher_score(m, s, out);
    return matcher_select(m, s, p, out, err) || matcher_describe(m, s, out, err) ? -1 : 0;
}

void match_result_free(match_result *r) {
    if (!r) return;
    free(r->experiences);
    free(r->skills);
    free(r->jobs);
    free(r->current);
    free(r->constraints);
    free(r->removals);
    free(r->codes);
    memset(r, 0, sizeof *r);
}
